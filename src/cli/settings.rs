//! Settings: the one place that reads the environment and the config file.
//!
//! Precedence, highest first: command-line flag, environment variable, config file
//! (`$KDB_CONFIG`, else `<platform config dir>/kdb/config.toml`), built-in default.
//! `kdb config` shows each effective value and where it came from.

use std::path::{Path, PathBuf};

use serde::Serialize;

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

/// A settable key: its name, environment variable and meaning.
pub struct Key {
    pub name: &'static str,
    pub env: &'static str,
    pub help: &'static str,
}

pub const KEYS: &[Key] = &[
    Key {
        name: "home",
        env: "KDB_HOME",
        help: "directory holding the catalogue and the content store",
    },
    Key {
        name: "lock_timeout",
        env: "KDB_LOCK_TIMEOUT",
        help: "seconds to wait for another kdb before giving up",
    },
    Key {
        name: "jobs",
        env: "KDB_JOBS",
        help: "parallel downloads per host",
    },
    Key {
        name: "connect_timeout",
        env: "KDB_CONNECT_TIMEOUT",
        help: "seconds to wait for a connection",
    },
    Key {
        name: "read_timeout",
        env: "KDB_READ_TIMEOUT",
        help: "seconds a download may stall before it is abandoned",
    },
];

/// Numeric settings after `home`: (key, default).
const NUMBERS: &[(&str, u64)] = &[
    ("lock_timeout", 600),
    ("jobs", 8),
    ("connect_timeout", 15),
    ("read_timeout", 30),
];

#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub config_file: Sourced<PathBuf>,
    pub home: Sourced<PathBuf>,
    pub lock_timeout: Sourced<u64>,
    pub jobs: Sourced<u64>,
    pub connect_timeout: Sourced<u64>,
    pub read_timeout: Sourced<u64>,
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
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid value `{value}` for `{key}` (from {origin}): {why}")]
    Invalid {
        key: &'static str,
        value: String,
        origin: String,
        why: &'static str,
    },
    #[error(
        "unknown config key `{0}`; known keys: home, lock_timeout, jobs, connect_timeout, read_timeout"
    )]
    UnknownKey(String),
    #[error("cannot determine a home directory; set KDB_HOME or pass --home")]
    NoDefault,
    #[error("cannot write config file `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::store::Error,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "kdb")
}

fn config_path() -> Result<Sourced<PathBuf>, SettingsError> {
    if let Some(p) = env("KDB_CONFIG") {
        return Ok(Sourced {
            value: PathBuf::from(p),
            source: Source::Env,
        });
    }
    let d = dirs().ok_or(SettingsError::NoDefault)?;
    Ok(Sourced {
        value: d.config_dir().join("config.toml"),
        source: Source::Default,
    })
}

fn read_table(path: &Path) -> Result<toml::Table, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|source| SettingsError::Parse {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(source) => Err(SettingsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl Settings {
    /// Resolves every setting; `home_flag` is `--home`.
    pub fn load(home_flag: Option<&Path>) -> Result<Settings, SettingsError> {
        let config_file = config_path()?;
        let table = read_table(&config_file.value)?;
        let home = if let Some(p) = home_flag {
            Sourced {
                value: p.to_path_buf(),
                source: Source::Flag,
            }
        } else if let Some(p) = env("KDB_HOME") {
            Sourced {
                value: PathBuf::from(p),
                source: Source::Env,
            }
        } else if let Some(p) = table.get("home").and_then(|v| v.as_str()) {
            Sourced {
                value: expand_tilde(p),
                source: Source::Config,
            }
        } else {
            Sourced {
                value: dirs()
                    .ok_or(SettingsError::NoDefault)?
                    .data_dir()
                    .to_path_buf(),
                source: Source::Default,
            }
        };
        let mut numbers = Vec::new();
        for (i, (key, default)) in NUMBERS.iter().enumerate() {
            let env_name = KEYS[i + 1].env;
            let v = if let Some(v) = env(env_name) {
                Sourced {
                    value: parse_u64(key, &v, &format!("environment ({env_name})"))?,
                    source: Source::Env,
                }
            } else if let Some(v) = table.get(*key) {
                let text = v
                    .as_integer()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| v.to_string());
                Sourced {
                    value: parse_u64(key, &text, "config file")?,
                    source: Source::Config,
                }
            } else {
                Sourced {
                    value: *default,
                    source: Source::Default,
                }
            };
            numbers.push(v);
        }
        let mut numbers = numbers.into_iter();
        let mut next = || {
            numbers.next().unwrap_or(Sourced {
                value: 0,
                source: Source::Default,
            })
        };
        let (lock_timeout, jobs, connect_timeout, read_timeout) = (next(), next(), next(), next());
        if jobs.value == 0 {
            return Err(SettingsError::Invalid {
                key: "jobs",
                value: "0".into(),
                origin: jobs.source.describe("KDB_JOBS"),
                why: "must be at least 1",
            });
        }
        Ok(Settings {
            config_file,
            home,
            lock_timeout,
            jobs,
            connect_timeout,
            read_timeout,
        })
    }

    /// The value of `key` as text.
    pub fn get(&self, key: &str) -> Result<String, SettingsError> {
        match key {
            "home" => Ok(self.home.value.display().to_string()),
            "lock_timeout" => Ok(self.lock_timeout.value.to_string()),
            "jobs" => Ok(self.jobs.value.to_string()),
            "connect_timeout" => Ok(self.connect_timeout.value.to_string()),
            "read_timeout" => Ok(self.read_timeout.value.to_string()),
            other => Err(SettingsError::UnknownKey(other.to_owned())),
        }
    }

    /// Validates and stores `key = value` in the config file (atomically).
    pub fn set(&self, key: &str, value: &str) -> Result<PathBuf, SettingsError> {
        let path = &self.config_file.value;
        let mut table = read_table(path)?;
        match key {
            "home" => {
                if value.is_empty() {
                    return Err(SettingsError::Invalid {
                        key: "home",
                        value: value.into(),
                        origin: "the command line".into(),
                        why: "must not be empty",
                    });
                }
                table.insert("home".into(), toml::Value::String(value.into()));
            }
            key if NUMBERS.iter().any(|(k, _)| *k == key) => {
                let name = NUMBERS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(k, _)| *k)
                    .unwrap_or("lock_timeout");
                let v = parse_u64(name, value, "the command line")?;
                table.insert(name.into(), toml::Value::Integer(v as i64));
            }
            other => return Err(SettingsError::UnknownKey(other.to_owned())),
        }
        let text = toml::to_string(&table).unwrap_or_default();
        fsio::write_atomic(path, text.as_bytes()).map_err(|source| SettingsError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path.clone())
    }
}

fn parse_u64(key: &'static str, value: &str, origin: &str) -> Result<u64, SettingsError> {
    value.trim().parse().map_err(|_| SettingsError::Invalid {
        key,
        value: value.into(),
        origin: origin.into(),
        why: "expected a whole number",
    })
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}
