//! Mission mirrors with failover: when a mission's server refuses, times out or
//! answers 5xx, its requests move to the next mirror for the rest of the command.
//!
//! A [`Route`] is a mission's server base URL and its mirrors (base URLs holding the
//! same tree). Requests keep their primary URLs everywhere (plans, listings, local
//! paths, the metakernel's names); only the URL actually asked is rewritten, and the
//! answer says which host served it ([`Failover::served_by`]).

use std::sync::{Arc, Mutex};

use url::Url;

/// One mission's server and its mirrors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The mission's name, for messages.
    pub mission: String,
    /// The server base URL (`--server`, or the mk/ URL of a `--mk-dir-url` mission).
    pub primary: Url,
    pub mirrors: Vec<Url>,
}

/// How far above its base a route still maps URLs: a `--mk-dir-url` mission's
/// kernels live in sibling directories of its mk/ (`../spk/`).
const MAX_UP: usize = 3;

/// `url` under `base` or up to [`MAX_UP`] levels above it on the same origin: the
/// number of levels and the path below that ancestor.
fn below(base: &Url, url: &Url) -> Option<(usize, String)> {
    if base.scheme() != url.scheme()
        || base.host_str() != url.host_str()
        || base.port_or_known_default() != url.port_or_known_default()
    {
        return None;
    }
    let mut prefix = base.path().to_owned();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    for up in 0..=MAX_UP {
        if let Some(rest) = url.path().strip_prefix(prefix.as_str()) {
            return Some((up, rest.to_owned()));
        }
        if prefix == "/" {
            return None;
        }
        prefix = parent(&prefix);
    }
    None
}

/// `/a/b/c/` → `/a/b/`.
fn parent(dir: &str) -> String {
    let trimmed = dir.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => trimmed[..=i].to_owned(),
        None => "/".to_owned(),
    }
}

/// `base` climbed `up` levels, then `rest` below it (query kept from `original`).
fn rebase(base: &Url, up: usize, rest: &str, original: &Url) -> Url {
    let mut dir = base.path().to_owned();
    if !dir.ends_with('/') {
        dir.push('/');
    }
    for _ in 0..up {
        dir = parent(&dir);
    }
    let mut u = base.clone();
    u.set_path(&format!("{dir}{rest}"));
    u.set_query(original.query());
    u.set_fragment(None);
    u
}

impl Route {
    /// The hosts in order of preference: the primary, then each mirror.
    fn host(&self, i: usize) -> Option<&Url> {
        if i == 0 {
            Some(&self.primary)
        } else {
            self.mirrors.get(i - 1)
        }
    }

    /// `url` (a primary URL) as asked of host `i` (`None`: not this route's URL).
    pub fn on_host(&self, url: &Url, i: usize) -> Option<Url> {
        let (up, rest) = below(&self.primary, url)?;
        Some(rebase(self.host(i)?, up, &rest, url))
    }

    /// `url` as served by host `i`, mapped back to the primary's form.
    fn to_primary(&self, url: &Url, i: usize) -> Option<Url> {
        let (up, rest) = below(self.host(i)?, url)?;
        Some(rebase(&self.primary, up, &rest, url))
    }

    /// How closely the route covers `url` (fewer levels up is closer).
    fn distance(&self, url: &Url) -> Option<usize> {
        below(&self.primary, url).map(|(up, _)| up)
    }
}

/// The state of one route during a command: which host its requests go to.
#[derive(Debug)]
struct Active {
    route: Route,
    host: usize,
}

/// A command's mission routes and where each currently sends its requests, shared
/// by every clone of its `FetchConfig`.
#[derive(Clone, Default)]
pub struct Failover(Arc<Inner>);

#[derive(Default)]
struct Inner {
    routes: Mutex<Vec<Active>>,
    /// Told one line per move ([`Failover::on_move`]).
    notify: std::sync::OnceLock<Notify>,
}

/// Where [`Failover::announce`] sends its line.
type Notify = Box<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.lock().iter().map(|a| (&a.route, a.host)))
            .finish()
    }
}

/// Where one request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL to ask.
    pub url: Url,
    /// The route and host index it was chosen from (`None`: no route covers it).
    at: Option<(usize, usize)>,
}

impl Target {
    /// The URL asked is a mirror's, not the primary's.
    pub fn is_mirror(&self) -> bool {
        self.at.is_some_and(|(_, host)| host > 0)
    }
}

/// A host that just stopped being used: what to tell the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved {
    pub mission: String,
    pub from: Url,
    pub to: Url,
}

impl Failover {
    /// Adds (or replaces) a mission's route; a route without mirrors is not kept.
    pub fn add(&self, route: Route) {
        let mut routes = self.lock();
        routes.retain(|a| !a.route.mission.eq_ignore_ascii_case(&route.mission));
        if !route.mirrors.is_empty() {
            routes.push(Active { route, host: 0 });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Active>> {
        self.0
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where the one line saying a mission's requests moved goes (first call wins).
    pub fn on_move(&self, notify: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.0.notify.set(Box::new(notify));
    }

    /// Says that `moved` happened because of `why`.
    pub fn announce(&self, moved: &Moved, why: &str) {
        let line = format!(
            "mission {}: `{}` failed ({why}); using mirror `{}` for the rest of this command",
            moved.mission,
            crate::remote::auth::redact_text(moved.from.as_str()),
            crate::remote::auth::redact_text(moved.to.as_str()),
        );
        tracing::info!("{line}");
        if let Some(notify) = self.0.notify.get() {
            notify(&line);
        }
    }

    /// Whether any route has a mirror.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Where a request for `url` (a primary URL) goes now.
    pub fn target(&self, url: &Url) -> Target {
        let routes = self.lock();
        let best = routes
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.route.distance(url).map(|d| (d, i)))
            .min();
        match best {
            Some((_, r)) => {
                let a = &routes[r];
                match a.route.on_host(url, a.host) {
                    Some(mapped) => Target {
                        url: mapped,
                        at: Some((r, a.host)),
                    },
                    None => Target {
                        url: url.clone(),
                        at: None,
                    },
                }
            }
            None => Target {
                url: url.clone(),
                at: None,
            },
        }
    }

    /// The host `target` went to failed: its route moves to the next host, unless
    /// another request moved it already. `Some` when this call moved it (say so
    /// once); the caller asks again through [`Failover::target`] while
    /// [`Failover::has_next`] held.
    pub fn failed(&self, target: &Target) -> Option<Moved> {
        let (r, host) = target.at?;
        let mut routes = self.lock();
        let a = routes.get_mut(r)?;
        if a.host != host || a.route.host(host + 1).is_none() {
            return None;
        }
        a.host = host + 1;
        Some(Moved {
            mission: a.route.mission.clone(),
            from: a.route.host(host)?.clone(),
            to: a.route.host(host + 1)?.clone(),
        })
    }

    /// Whether a request that failed at `target` may be asked again elsewhere: its
    /// route has a host after the one asked.
    pub fn has_next(&self, target: &Target) -> bool {
        let Some((r, host)) = target.at else {
            return false;
        };
        self.lock()
            .get(r)
            .is_some_and(|a| a.route.host(host + 1).is_some())
    }

    /// `served` (a URL on the host `target` chose, after redirects) in the primary's
    /// form, so plans and records keep the primary's names.
    pub fn to_primary(&self, target: &Target, served: &Url) -> Url {
        let Some((r, host)) = target.at else {
            return served.clone();
        };
        self.lock()
            .get(r)
            .and_then(|a| a.route.to_primary(served, host))
            .unwrap_or_else(|| served.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn route(primary: &str, mirrors: &[&str]) -> Route {
        Route {
            mission: "M".into(),
            primary: u(primary),
            mirrors: mirrors.iter().map(|m| u(m)).collect(),
        }
    }

    #[test]
    fn a_server_route_maps_paths_below_it() {
        let r = route("https://naif/pub/naif/", &["http://m:8/copy/"]);
        let k = u("https://naif/pub/naif/JUICE/kernels/spk/a%20b.bsp?x=1");
        assert_eq!(
            r.on_host(&k, 1).unwrap().as_str(),
            "http://m:8/copy/JUICE/kernels/spk/a%20b.bsp?x=1"
        );
        assert_eq!(r.on_host(&k, 0).unwrap(), k);
        assert_eq!(r.to_primary(&r.on_host(&k, 1).unwrap(), 1).unwrap(), k);
        // Another host, or a path outside the server's tree, is not the route's.
        assert!(r.on_host(&u("https://esa/pub/naif/X/a.bsp"), 1).is_none());
        assert!(r.on_host(&u("http://naif/pub/naif/X/a.bsp"), 1).is_none());
    }

    #[test]
    fn an_mk_dir_route_reaches_sibling_directories() {
        let r = route("http://h/X/kernels/mk/", &["http://m/mirror/X/kernels/mk/"]);
        assert_eq!(
            r.on_host(&u("http://h/X/kernels/spk/a.bsp"), 1)
                .unwrap()
                .as_str(),
            "http://m/mirror/X/kernels/spk/a.bsp"
        );
        assert_eq!(
            r.on_host(&u("http://h/X/kernels/mk/x.tm"), 1)
                .unwrap()
                .as_str(),
            "http://m/mirror/X/kernels/mk/x.tm"
        );
    }

    #[test]
    fn failing_moves_once_to_each_next_host_and_stops_at_the_last() {
        let f = Failover::default();
        f.add(route("http://p/", &["http://m1/", "http://m2/"]));
        let k = u("http://p/X/a.bsp");
        let first = f.target(&k);
        assert!(!first.is_mirror());
        let moved = f.failed(&first).unwrap();
        assert_eq!(
            (moved.from.as_str(), moved.to.as_str()),
            ("http://p/", "http://m1/")
        );
        // A second request that failed on the primary does not move it again.
        assert!(f.failed(&first).is_none());
        let second = f.target(&k);
        assert_eq!(second.url.as_str(), "http://m1/X/a.bsp");
        assert!(second.is_mirror());
        assert!(f.has_next(&second));
        f.failed(&second).unwrap();
        let third = f.target(&k);
        assert_eq!(third.url.as_str(), "http://m2/X/a.bsp");
        assert!(!f.has_next(&third));
        assert!(f.failed(&third).is_none());
        assert_eq!(f.to_primary(&third, &third.url), k);
        // URLs no route covers go where they were going.
        let other = u("http://elsewhere/a.bsp");
        assert_eq!(f.target(&other).url, other);
    }

    #[test]
    fn a_route_without_mirrors_is_not_kept() {
        let f = Failover::default();
        f.add(route("http://p/", &[]));
        assert!(f.is_empty());
    }
}
