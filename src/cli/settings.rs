//! Settings: the one place that reads the environment and the config file.
//!
//! Every setting is one row of [`SETTINGS`]: its key, environment variable, kind
//! (parser, default, bounds) and help. That table alone drives loading, `kdb config`
//! (table and `--json`), `kdb config get/set`, the list of known keys in errors and the
//! help text; adding a setting is one row plus, if code reads it, one accessor.
//!
//! Precedence, highest first: command-line flag, environment variable, config file
//! (`$KDB_CONFIG`, else `<platform config dir>/kdb/config.toml`), built-in default.
//! `kdb config` shows each effective value and where it came from.
//!
//! Invariant: every directory setting (and the config file path) is absolute once
//! [`Settings::load`] returns — a relative flag or environment value is taken against
//! the current directory, a relative config-file value against the config file's
//! directory. Only lexical `.` components are dropped; symlinks are never resolved, so
//! the home the user named is the home kdb writes links under.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::store::fsio;

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Flag,
    Env,
    Config,
    Default,
}

impl Source {
    pub fn describe(self, env: &str) -> String {
        match self {
            Source::Flag => "command-line flag".into(),
            Source::Env => format!("environment ({env})"),
            Source::Config => "config file".into(),
            Source::Default => "default".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// One settable key: the row of the settings table.
#[derive(Debug)]
pub struct Setting {
    /// The key in the config file and in `kdb config get/set`.
    pub name: &'static str,
    /// The environment variable that overrides the config file.
    pub env: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// How a setting's text is parsed and what it is when unset.
#[derive(Debug)]
pub enum Kind {
    /// A directory path (`~/` expanded, made absolute). `default` is the platform
    /// directory used when nothing is set; `None` when the platform has none.
    Dir { default: fn() -> Option<PathBuf> },
    /// A whole number in `min..=max` (a value outside is refused, naming the range:
    /// no later arithmetic on a setting can overflow).
    Number { default: u64, min: u64, max: u64 },
    /// A list of strings: a TOML array in the config file (a dotted name is a key
    /// of a table: `team.stores` is `[team] stores = [...]`), comma- or
    /// space-separated in the environment. Empty when unset.
    List,
    /// A file path (`~/` expanded, made absolute); none when unset.
    File,
    /// A URL (shown without its userinfo); none when unset.
    Url,
}

/// The settings table, in the order `kdb config` shows them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "home",
        env: "KDB_HOME",
        kind: Kind::Dir {
            default: platform_data_dir,
        },
        help: "directory holding the catalogue and the content store",
    },
    Setting {
        name: "lock_timeout",
        env: "KDB_LOCK_TIMEOUT",
        kind: Kind::Number {
            default: 600,
            min: 0,
            max: 7 * DAY,
        },
        help: "seconds to wait for another kdb before giving up",
    },
    Setting {
        name: "jobs",
        env: "KDB_JOBS",
        kind: Kind::Number {
            default: 8,
            min: 1,
            max: JOBS_MAX,
        },
        help: "parallel downloads per host",
    },
    Setting {
        name: "connect_timeout",
        env: "KDB_CONNECT_TIMEOUT",
        kind: Kind::Number {
            default: 15,
            min: 0,
            max: DAY,
        },
        help: "seconds to wait for a connection",
    },
    Setting {
        name: "read_timeout",
        env: "KDB_READ_TIMEOUT",
        kind: Kind::Number {
            default: 30,
            min: 0,
            max: DAY,
        },
        help: "seconds a download may stall before it is abandoned",
    },
    Setting {
        name: "low_speed_limit",
        env: "KDB_LOW_SPEED_LIMIT",
        kind: Kind::Number {
            default: 1000,
            min: 0,
            max: 1 << 40,
        },
        help: "bytes/s a transfer must average over low_speed_time (0: no floor)",
    },
    Setting {
        name: "low_speed_time",
        env: "KDB_LOW_SPEED_TIME",
        kind: Kind::Number {
            default: 60,
            min: 1,
            max: DAY,
        },
        help: "seconds over which a transfer slower than low_speed_limit is abandoned",
    },
    Setting {
        name: "ca_file",
        env: "KDB_CA_FILE",
        kind: Kind::File,
        help: "PEM file of certificate authorities trusted for HTTPS beside the system's (an institution's CA)",
    },
    Setting {
        name: "proxy",
        env: "KDB_PROXY",
        kind: Kind::Url,
        help: "proxy for every request, `http://[user:pass@]host:port` (overrides HTTP_PROXY, HTTPS_PROXY and ALL_PROXY; NO_PROXY still applies)",
    },
    Setting {
        name: "team.stores",
        env: "KDB_TEAM_STORE",
        kind: Kind::List,
        help: "team store tiers, tried in order before the archive (s3://, https://, file://)",
    },
];

/// The most parallel transfers per host (`jobs`, and `-j`).
pub const JOBS_MAX: u64 = 256;

/// Seconds in a day (the bound of time settings).
const DAY: u64 = 86_400;

/// The environment variable naming the config file (not itself a key of the file).
pub const CONFIG_ENV: &str = "KDB_CONFIG";

/// A setting's effective value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Dir(PathBuf),
    Number(u64),
    List(Vec<String>),
    File(Option<PathBuf>),
    Url(Option<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Dir(p) => p.display().fmt(f),
            Value::Number(n) => n.fmt(f),
            Value::List(items) if items.is_empty() => f.write_str("(none)"),
            Value::File(None) | Value::Url(None) => f.write_str("(none)"),
            Value::Url(Some(u)) => f.write_str(&crate::remote::auth::redact_text(u)),
            Value::File(Some(p)) => p.display().fmt(f),
            Value::List(items) => f.write_str(&redacted(items).join(", ")),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Dir(p) => p.serialize(s),
            Value::Number(n) => n.serialize(s),
            Value::List(items) => redacted(items).serialize(s),
            Value::File(p) => p.serialize(s),
            Value::Url(u) => u
                .as_deref()
                .map(crate::remote::auth::redact_text)
                .serialize(s),
        }
    }
}

/// List items (team-store URLs) as shown: without userinfo.
fn redacted(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|i| crate::remote::auth::redact_text(i))
        .collect()
}

/// Every setting's effective value and origin.
///
/// Serialises as `{"config_file": {value, source}, "<key>": {value, source}, …}` in
/// table order (the `kdb config --json` contract).
#[derive(Clone, Debug)]
pub struct Settings {
    pub config_file: Sourced<PathBuf>,
    /// One entry per row of [`SETTINGS`], in table order.
    values: Vec<(&'static Setting, Sourced<Value>)>,
    /// The `home` row's value, kept typed so [`Settings::home`] cannot fail.
    home: PathBuf,
    /// Keys of the config file no setting knows (a typo such as `job = 3`).
    pub unknown_keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file `{path}` is not valid TOML")]
    Parse {
        path: PathBuf,
        /// The parser's message, each line shortened (it quotes the offending line).
        #[source]
        source: crate::ShortMessage,
    },
    #[error("invalid value `{value}` for `{key}` (from {origin}): {why}")]
    Invalid {
        key: &'static str,
        value: String,
        origin: String,
        why: String,
    },
    #[error("unknown config key `{key}`; known keys: {known}")]
    UnknownKey { key: String, known: String },
    #[error("cannot determine a home directory; set KDB_HOME or pass --home")]
    NoDefault,
    #[error("cannot determine the current directory to resolve `{path}`")]
    CurrentDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write config file `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::store::Error,
    },
}

impl Setting {
    /// The row named `key`, or the error listing every known key.
    pub fn find(key: &str) -> Result<&'static Setting, SettingsError> {
        SETTINGS
            .iter()
            .find(|s| s.name == key)
            .ok_or_else(|| SettingsError::UnknownKey {
                key: key.to_owned(),
                known: SETTINGS
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The built-in default, as `kdb config --help` shows it.
    pub fn default_text(&self) -> String {
        match self.kind {
            Kind::Dir { .. } => "platform data directory".into(),
            Kind::Number { default, min, max } => format!("{default}, from {min} to {max}"),
            Kind::List | Kind::File | Kind::Url => "none".into(),
        }
    }

    /// Parses `text` (from `origin`, named in errors) into a value. A relative
    /// directory is taken against `base`: the current directory for the flag and the
    /// environment, the config file's directory for the config file.
    fn parse(&self, text: &str, origin: &str, base: &Path) -> Result<Value, SettingsError> {
        let invalid = |why: String| SettingsError::Invalid {
            key: self.name,
            value: crate::shorten(text, crate::MESSAGE_MAX),
            origin: origin.into(),
            why,
        };
        match self.kind {
            Kind::Dir { .. } => {
                if text.is_empty() {
                    return Err(invalid("must not be empty".into()));
                }
                Ok(Value::Dir(absolute_in(base, &expand_tilde(text))))
            }
            Kind::Number { min, max, .. } => {
                let range = || format!("must be a whole number from {min} to {max}");
                let t = text.trim();
                let n: u64 = match t.parse() {
                    Ok(n) => n,
                    // All digits but too large for u64: out of range, not malformed.
                    Err(_) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                        return Err(invalid(range()));
                    }
                    Err(_) => return Err(invalid(format!("expected a whole number; {}", range()))),
                };
                if !(min..=max).contains(&n) {
                    return Err(invalid(range()));
                }
                Ok(Value::Number(n))
            }
            Kind::Url => {
                let url = url::Url::parse(text.trim())
                    .map_err(|e| invalid(format!("expected a URL like http://host:port ({e})")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid("expected an http:// or https:// URL".into()));
                }
                Ok(Value::Url(Some(text.trim().to_owned())))
            }
            Kind::File => {
                if text.is_empty() {
                    return Err(invalid("must not be empty".into()));
                }
                Ok(Value::File(Some(absolute_in(base, &expand_tilde(text)))))
            }
            Kind::List => Ok(Value::List(
                text.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
        }
    }

    fn default_value(&self) -> Result<Value, SettingsError> {
        match self.kind {
            Kind::Dir { default } => default().map(Value::Dir).ok_or(SettingsError::NoDefault),
            Kind::Number { default, .. } => Ok(Value::Number(default)),
            Kind::List => Ok(Value::List(Vec::new())),
            Kind::File => Ok(Value::File(None)),
            Kind::Url => Ok(Value::Url(None)),
        }
    }

    /// The effective value: `flag`, else the environment, else `table`, else the default.
    fn resolve(
        &self,
        flag: Option<&Path>,
        table: &toml::Table,
        cwd: &Path,
        config_dir: &Path,
    ) -> Result<Sourced<Value>, SettingsError> {
        if let Some(p) = flag {
            let text = p.to_string_lossy();
            let value = self.parse(&text, &Source::Flag.describe(self.env), cwd)?;
            return Ok(Sourced {
                value,
                source: Source::Flag,
            });
        }
        if let Some(text) = env(self.env) {
            let value = self.parse(&text, &Source::Env.describe(self.env), cwd)?;
            return Ok(Sourced {
                value,
                source: Source::Env,
            });
        }
        if let Some(v) = lookup(table, self.name) {
            let text = match (v, &self.kind) {
                (toml::Value::Array(items), Kind::List) => {
                    let items = items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| SettingsError::Invalid {
                            key: self.name,
                            value: crate::shorten(&v.to_string(), crate::MESSAGE_MAX),
                            origin: "config file".into(),
                            why: "expected an array of strings".into(),
                        })?;
                    return Ok(Sourced {
                        value: Value::List(items),
                        source: Source::Config,
                    });
                }
                (toml::Value::String(s), _) => s.clone(),
                (other, Kind::Number { .. }) => other.to_string(),
                (other, Kind::Dir { .. } | Kind::List | Kind::File | Kind::Url) => {
                    return Err(SettingsError::Invalid {
                        key: self.name,
                        value: crate::shorten(&other.to_string(), crate::MESSAGE_MAX),
                        origin: "config file".into(),
                        why: "expected a path in quotes".into(),
                    });
                }
            };
            let value = self.parse(&text, "config file", config_dir)?;
            return Ok(Sourced {
                value,
                source: Source::Config,
            });
        }
        Ok(Sourced {
            value: self.default_value()?,
            source: Source::Default,
        })
    }

    /// The TOML value `config set` stores for `text` (validated first). Relative
    /// directories are stored absolute (against the current directory), as the user
    /// meant them; `~/` is kept so the file stays portable across accounts.
    fn to_toml(&self, text: &str, cwd: &Path) -> Result<toml::Value, SettingsError> {
        let origin = "the command line";
        match self.parse(text, origin, cwd)? {
            Value::Dir(_) | Value::File(_) if text.starts_with("~/") => {
                Ok(toml::Value::String(text.into()))
            }
            Value::Dir(p) | Value::File(Some(p)) => {
                Ok(toml::Value::String(p.to_string_lossy().into_owned()))
            }
            Value::File(None) | Value::Url(None) => Ok(toml::Value::String(String::new())),
            Value::Url(Some(u)) => Ok(toml::Value::String(u)),
            Value::List(items) => Ok(toml::Value::Array(
                items.into_iter().map(toml::Value::String).collect(),
            )),
            Value::Number(n) => {
                i64::try_from(n)
                    .map(toml::Value::Integer)
                    .map_err(|_| SettingsError::Invalid {
                        key: self.name,
                        value: crate::shorten(text, crate::MESSAGE_MAX),
                        origin: origin.into(),
                        why: "too large".into(),
                    })
            }
        }
    }
}

/// The key list for `kdb config --help`, built from [`SETTINGS`].
pub fn help() -> String {
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut text = String::from("Keys:\n");
    for s in SETTINGS {
        text.push_str(&format!(
            "  {:width$}  {}\n  {:width$}  [env: {}] [default: {}]\n",
            s.name,
            s.help,
            "",
            s.env,
            s.default_text()
        ));
    }
    text.push_str(&format!(
        "\nThe config file is ${CONFIG_ENV}, else <platform config dir>/kdb/config.toml.\n\
         A relative home is taken against the current directory (flag, environment)\n\
         or against the config file's directory (config file)."
    ));
    text
}

/// The value of a possibly dotted key (`team.stores` is key `stores` of table `team`).
fn lookup<'t>(table: &'t toml::Table, name: &str) -> Option<&'t toml::Value> {
    match name.split_once('.') {
        None => table.get(name),
        Some((head, rest)) => lookup(table.get(head)?.as_table()?, rest),
    }
}

/// Sets a possibly dotted key, creating the tables on the way.
fn insert(table: &mut toml::Table, name: &str, value: toml::Value) {
    match name.split_once('.') {
        None => {
            table.insert(name.into(), value);
        }
        Some((head, rest)) => {
            let sub = table
                .entry(head)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !sub.is_table() {
                *sub = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(t) = sub {
                insert(t, rest, value);
            }
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "kdb")
}

fn platform_data_dir() -> Option<PathBuf> {
    dirs().map(|d| d.data_dir().to_path_buf())
}

fn config_path(cwd: &Path) -> Result<Sourced<PathBuf>, SettingsError> {
    if let Some(p) = env(CONFIG_ENV) {
        return Ok(Sourced {
            value: absolute_in(cwd, Path::new(&p)),
            source: Source::Env,
        });
    }
    let d = dirs().ok_or(SettingsError::NoDefault)?;
    Ok(Sourced {
        value: absolute_in(cwd, &d.config_dir().join("config.toml")),
        source: Source::Default,
    })
}

fn read_table(path: &Path) -> Result<toml::Table, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|e| SettingsError::Parse {
                path: path.to_path_buf(),
                source: crate::ShortMessage::of(&e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(source) => Err(SettingsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn current_dir(for_path: &Path) -> Result<PathBuf, SettingsError> {
    std::env::current_dir().map_err(|source| SettingsError::CurrentDir {
        path: for_path.to_path_buf(),
        source,
    })
}

impl Settings {
    /// Resolves every setting; `home_flag` is `--home`.
    pub fn load(home_flag: Option<&Path>) -> Result<Settings, SettingsError> {
        let cwd = current_dir(Path::new("."))?;
        let config_file = config_path(&cwd)?;
        let table = read_table(&config_file.value)?;
        let config_dir = config_file.value.parent().unwrap_or(&cwd).to_path_buf();
        let unknown_keys = table
            .keys()
            .filter(|k| Setting::find(k).is_err())
            .cloned()
            .collect();
        let values = SETTINGS
            .iter()
            .map(|s| {
                let flag = home_flag.filter(|_| s.name == "home");
                Ok((s, s.resolve(flag, &table, &cwd, &config_dir)?))
            })
            .collect::<Result<Vec<_>, SettingsError>>()?;
        let home = values
            .iter()
            .find_map(|(s, v)| match &v.value {
                Value::Dir(p) if s.name == "home" => Some(p.clone()),
                _ => None,
            })
            .ok_or(SettingsError::NoDefault)?;
        Ok(Settings {
            config_file,
            values,
            home,
            unknown_keys,
        })
    }

    /// Every setting with its effective value, in table order.
    pub fn rows(&self) -> impl Iterator<Item = (&'static Setting, &Sourced<Value>)> {
        self.values.iter().map(|(s, v)| (*s, v))
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(s, _)| s.name == key)
            .map(|(_, v)| &v.value)
    }

    fn number(&self, key: &str) -> u64 {
        match (self.value(key), Setting::find(key).map(|s| &s.kind)) {
            (Some(Value::Number(n)), _) => *n,
            // Unreachable: `load` fills every row; the default keeps this total.
            (_, Ok(Kind::Number { default, .. })) => *default,
            _ => 0,
        }
    }

    /// The home directory (absolute).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Seconds to wait for another kdb's lock.
    pub fn lock_timeout(&self) -> u64 {
        self.number("lock_timeout")
    }

    /// Parallel downloads per host (at least 1).
    pub fn jobs(&self) -> u64 {
        self.number("jobs")
    }

    /// The proxy for every request (with its credentials), when set.
    pub fn proxy(&self) -> Option<String> {
        match self.value("proxy") {
            Some(Value::Url(u)) => u.clone(),
            _ => None,
        }
    }

    /// A PEM file of certificate authorities to trust for HTTPS.
    pub fn ca_file(&self) -> Option<PathBuf> {
        match self.value("ca_file") {
            Some(Value::File(p)) => p.clone(),
            _ => None,
        }
    }

    /// Seconds to wait for a connection.
    pub fn connect_timeout(&self) -> u64 {
        self.number("connect_timeout")
    }

    /// Seconds a transfer may stall.
    pub fn read_timeout(&self) -> u64 {
        self.number("read_timeout")
    }

    /// Bytes per second a transfer must average over [`Settings::low_speed_time`]
    /// (0: no floor).
    pub fn low_speed_limit(&self) -> u64 {
        self.number("low_speed_limit")
    }

    /// The window, in seconds, of the low-speed check.
    pub fn low_speed_time(&self) -> u64 {
        self.number("low_speed_time")
    }

    /// The team store tiers, in lookup order (empty: none).
    pub fn team_stores(&self) -> Vec<String> {
        match self.value("team.stores") {
            Some(Value::List(items)) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Where the `key` row's value comes from.
    pub fn source(&self, key: &str) -> Option<Source> {
        self.values
            .iter()
            .find(|(s, _)| s.name == key)
            .map(|(_, v)| v.source)
    }

    /// The known keys, comma-separated (for messages).
    pub fn known_keys() -> String {
        SETTINGS
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The value of `key` as text.
    pub fn get(&self, key: &str) -> Result<String, SettingsError> {
        let s = Setting::find(key)?;
        Ok(self.value(s.name).map(Value::to_string).unwrap_or_default())
    }

    /// Validates and stores `key = value` in the config file (atomically).
    pub fn set(&self, key: &str, value: &str) -> Result<PathBuf, SettingsError> {
        let s = Setting::find(key)?;
        let cwd = current_dir(Path::new(value))?;
        let stored = s.to_toml(value, &cwd)?;
        let path = &self.config_file.value;
        let mut table = read_table(path)?;
        insert(&mut table, s.name, stored);
        let text = toml::to_string(&table).unwrap_or_default();
        fsio::write_atomic(path, text.as_bytes()).map_err(|source| SettingsError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path.clone())
    }
}

impl Serialize for Settings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len() + 1))?;
        map.serialize_entry("config_file", &self.config_file)?;
        for (setting, v) in &self.values {
            map.serialize_entry(setting.name, v)?;
        }
        map.end()
    }
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// `p` made absolute against `base`, lexically: `.` components dropped, `..` and
/// symlinks kept as written (resolving them could move the home to another tree).
fn absolute_in(base: &Path, p: &Path) -> PathBuf {
    let joined = base.join(p);
    joined.components().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(s: &Setting, table: &str) -> Result<Sourced<Value>, SettingsError> {
        let table: toml::Table = table.parse().unwrap();
        s.resolve(None, &table, Path::new("/cwd"), Path::new("/cfg"))
    }

    #[test]
    fn names_and_env_vars_are_unique() {
        for (i, a) in SETTINGS.iter().enumerate() {
            for b in &SETTINGS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.env, b.env);
            }
            assert!(a.env.starts_with("KDB_"), "{}", a.env);
        }
    }

    #[test]
    fn every_accessor_names_a_row_of_the_matching_kind() {
        for key in [
            "lock_timeout",
            "jobs",
            "connect_timeout",
            "read_timeout",
            "low_speed_limit",
            "low_speed_time",
        ] {
            let s = Setting::find(key).unwrap();
            assert!(matches!(s.kind, Kind::Number { .. }), "{key}");
        }
        assert!(matches!(
            Setting::find("home").unwrap().kind,
            Kind::Dir { .. }
        ));
    }

    #[test]
    fn unknown_key_lists_the_known_ones() {
        let e = Setting::find("colour").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown config key `colour`; known keys: home, lock_timeout, jobs, \
             connect_timeout, read_timeout, low_speed_limit, low_speed_time, ca_file, proxy, \
             team.stores"
        );
    }

    #[test]
    fn config_values_parse_and_keep_their_source() {
        let jobs = Setting::find("jobs").unwrap();
        let v = resolve(jobs, "jobs = 3").unwrap();
        assert_eq!((v.value, v.source), (Value::Number(3), Source::Config));
        let v = resolve(jobs, "jobs = \"4\"").unwrap();
        assert_eq!(v.value, Value::Number(4));
        let v = resolve(jobs, "").unwrap();
        assert_eq!((v.value, v.source), (Value::Number(8), Source::Default));
        let e = resolve(jobs, "jobs = 0").unwrap_err().to_string();
        assert!(e.contains("must be a whole number from 1 to 256"), "{e}");
        let e = resolve(jobs, "jobs = \"soon\"").unwrap_err().to_string();
        assert!(e.contains("expected a whole number"), "{e}");
        let e = resolve(jobs, "jobs = \"18446744073709551616\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("from 1 to 256") && e.contains("`jobs`"), "{e}");
    }

    #[test]
    fn a_relative_config_home_is_taken_against_the_config_directory() {
        let home = Setting::find("home").unwrap();
        let v = resolve(home, "home = \"./cache/../x\"").unwrap();
        assert_eq!(v.value, Value::Dir(PathBuf::from("/cfg/cache/../x")));
        let v = resolve(home, "home = \"/abs/./h\"").unwrap();
        assert_eq!(v.value, Value::Dir(PathBuf::from("/abs/h")));
        assert!(resolve(home, "home = \"\"").is_err());
    }

    #[test]
    fn team_stores_come_from_a_table_array_or_a_separated_variable() {
        let stores = Setting::find("team.stores").unwrap();
        let v = resolve(
            stores,
            "[team]\nstores = [\"s3://b/p\", \"https://m.example/kdb\"]",
        )
        .unwrap();
        assert_eq!(
            (v.value, v.source),
            (
                Value::List(vec!["s3://b/p".into(), "https://m.example/kdb".into()]),
                Source::Config
            )
        );
        let v = resolve(stores, "").unwrap();
        assert_eq!(v.value, Value::List(Vec::new()));
        assert!(resolve(stores, "[team]\nstores = [1]").is_err());
        let parsed = stores
            .parse("s3://a/x, /mnt/team  file:///y", "env", Path::new("/"))
            .unwrap();
        assert_eq!(
            parsed,
            Value::List(vec![
                "s3://a/x".into(),
                "/mnt/team".into(),
                "file:///y".into()
            ])
        );
        let mut t = toml::Table::new();
        insert(&mut t, "team.stores", toml::Value::Array(Vec::new()));
        assert!(lookup(&t, "team.stores").is_some());
    }

    #[test]
    fn absolute_in_keeps_dotdot_and_drops_dot() {
        assert_eq!(
            absolute_in(Path::new("/w"), Path::new("./a/../b/.")),
            PathBuf::from("/w/a/../b")
        );
        assert_eq!(
            absolute_in(Path::new("/w"), Path::new("/x/y")),
            PathBuf::from("/x/y")
        );
    }

    #[test]
    fn help_lists_every_key_and_variable() {
        let h = help();
        for s in SETTINGS {
            assert!(h.contains(s.name) && h.contains(s.env), "{h}");
        }
    }
}
