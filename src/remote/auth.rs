//! Credentials for HTTP requests, kept apart from URLs.
//!
//! Invariant: a URL kdb stores, prints or derives never carries userinfo
//! (`user:password@`). Userinfo is removed where a URL enters:
//!
//! - [`accept`] takes a URL the user typed (a metakernel URL, a mission server, a
//!   team-store spec), moves its userinfo into this process's in-memory table keyed
//!   by origin (scheme, host, port) and returns the URL without it. Every URL derived
//!   from it (kernels, redirects, catalogue rows, lockfiles, bundles, team records) is
//!   therefore clean.
//! - [`without_userinfo`] strips a URL read back from what is written down (a
//!   catalogue row, a lockfile, a bundle); that userinfo is never used.
//! - [`redact_text`] hides userinfo inside free text (a spec as configured, an
//!   unparsable argument) before it is shown.
//!
//! The client asks [`authorization`] for each request: the in-memory table first,
//! then the netrc file (`$NETRC`, else `~/.netrc`; `machine HOST login USER password
//! PASS` and `default`, as curl reads it). Credentials are sent as HTTP Basic auth
//! only to the origin they belong to (redirects never leave it, see
//! `fetch::http::vet_redirect`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use url::Url;

/// A user name and an optional password (both percent-decoded).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// The `Authorization` header value for HTTP Basic auth.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password.as_deref().unwrap_or(""));
        format!("Basic {}", base64(pair.as_bytes()))
    }
}

/// Credentials given on the command line or in a spec, by origin.
fn table() -> &'static Mutex<HashMap<String, Credentials>> {
    static TABLE: OnceLock<Mutex<HashMap<String, Credentials>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `scheme://host:port` of a URL (the port made explicit), the key of credentials.
pub fn origin(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// `url` without `user:password@`.
pub fn without_userinfo(url: &Url) -> Url {
    let mut clean = url.clone();
    if has_userinfo(url) {
        // Both fail only for URLs that cannot have userinfo (no host), which have none.
        clean.set_username("").ok();
        clean.set_password(None).ok();
    }
    clean
}

fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Takes a URL the user typed: its userinfo, if any, is remembered for its origin
/// (this process only) and the URL is returned without it.
pub fn accept(url: Url) -> Url {
    if !has_userinfo(&url) {
        return url;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = Credentials {
        user: decode(url.username()),
        password: url.password().map(decode),
    };
    if let Ok(mut t) = table().lock() {
        t.insert(origin(&url), credentials);
    }
    without_userinfo(&url)
}

/// [`accept`] for text: parses it, and on failure says why without showing userinfo.
pub fn accept_text(text: &str) -> Result<Url, String> {
    Url::parse(text)
        .map(accept)
        .map_err(|e| format!("invalid URL `{}`: {e}", redact_text(text)))
}

/// `text` with the userinfo of every `scheme://user:pass@host` in it replaced by
/// `***@` (for showing text that may hold a URL as typed).
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The credentials to send to `url`'s origin: given in this process, else from netrc.
pub fn credentials_for(url: &Url) -> Option<Credentials> {
    if let Some(c) = table().lock().ok()?.get(&origin(url)) {
        return Some(c.clone());
    }
    let host = url.host_str()?;
    netrc_lookup(netrc_text().as_deref()?, host)
}

/// The netrc file's text, read once per process.
fn netrc_text() -> &'static Option<String> {
    static TEXT: OnceLock<Option<String>> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read_to_string(netrc_path()?).ok())
}

/// The `Authorization` header value for `url`, if credentials are known for it.
pub fn authorization(url: &Url) -> Option<String> {
    credentials_for(url).map(|c| c.basic())
}

/// `$NETRC`, else `~/.netrc`.
fn netrc_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NETRC").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".netrc"))
}

/// The entry for `host` in netrc text (`machine HOST login U password P`), else the
/// `default` entry; `macdef` bodies are skipped. The first matching machine wins.
pub fn netrc_lookup(text: &str, host: &str) -> Option<Credentials> {
    /// One `machine` (or, with `None`, `default`) entry.
    #[derive(Default)]
    struct Entry {
        machine: Option<String>,
        login: Option<String>,
        password: Option<String>,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut tokens = netrc_tokens(text).into_iter();
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "machine" => entries.push(Entry {
                machine: Some(tokens.next().unwrap_or_default()),
                ..Entry::default()
            }),
            "default" => entries.push(Entry::default()),
            "login" | "password" => {
                let value = tokens.next();
                if let Some(e) = entries.last_mut() {
                    if token == "login" {
                        e.login = value;
                    } else {
                        e.password = value;
                    }
                }
            }
            "account" => {
                tokens.next();
            }
            _ => {}
        }
    }
    let pick = |e: &Entry| {
        e.login.clone().map(|user| Credentials {
            user,
            password: e.password.clone(),
        })
    };
    entries
        .iter()
        .find(|e| {
            e.machine
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(host))
        })
        .and_then(pick)
        .or_else(|| entries.iter().find(|e| e.machine.is_none()).and_then(pick))
}

/// Whitespace-separated tokens (double quotes group, `\` escapes inside them);
/// comments (`#` at a token's start) and `macdef` bodies (up to a blank line) dropped.
fn netrc_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let start = tokens.len();
        let mut chars = line.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let Some(&c) = chars.peek() else { break };
            if c == '#' {
                break;
            }
            let mut token = String::new();
            if c == '"' {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => token.extend(chars.next()),
                        c => token.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    token.push(c);
                }
            }
            tokens.push(token);
        }
        if let Some(at) = tokens[start..].iter().position(|t| t == "macdef") {
            tokens.truncate(start + at);
            for body in lines.by_ref() {
                if body.trim().is_empty() {
                    break;
                }
            }
        }
    }
    tokens
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_moved_out_of_the_url() {
        let u = Url::parse("http://al%20ice:S3cret@127.0.0.1:8123/x/demo.tm").unwrap();
        let clean = accept(u);
        assert_eq!(clean.as_str(), "http://127.0.0.1:8123/x/demo.tm");
        let c = credentials_for(&clean).unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_deref()),
            ("al ice", Some("S3cret"))
        );
        assert!(!format!("{c:?}").contains("S3cret"));
        // Another port is another origin.
        let other = Url::parse("http://127.0.0.1:8124/x").unwrap();
        assert!(table().lock().unwrap().get(&origin(&other)).is_none());
    }

    #[test]
    fn redact_text_hides_every_userinfo() {
        assert_eq!(
            redact_text("a https://u:p@h:1/x and s3://k:s@b/p?q"),
            "a https://***@h:1/x and s3://***@b/p?q"
        );
        assert_eq!(redact_text("/plain/path"), "/plain/path");
        assert_eq!(redact_text("http://h/x@y"), "http://h/x@y");
    }

    #[test]
    fn basic_header_is_base64() {
        let c = Credentials {
            user: "Aladdin".into(),
            password: Some("open sesame".into()),
        };
        assert_eq!(c.basic(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn netrc_machine_then_default() {
        let text = "# comment\nmachine other login o password op\n\
                    macdef init\ncd /x\nmachine evil login e\n\n\
                    machine Host.Example login \"u s\" password \"p\\\"q\"\ndefault login d password dp\n";
        let c = netrc_lookup(text, "host.example").unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_deref()),
            ("u s", Some("p\"q"))
        );
        let d = netrc_lookup(text, "elsewhere").unwrap();
        assert_eq!(d.user, "d");
        assert!(netrc_lookup(text, "evil").is_some_and(|c| c.user == "d"));
        assert!(netrc_lookup("machine a login x", "b").is_none());
    }
}
