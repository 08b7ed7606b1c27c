//! Where an S3 team store's credentials come from, in the AWS CLI's order:
//!
//! 1. the environment (`AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`, or
//!    `AWS_SKIP_SIGNATURE` for anonymous reads): object_store reads them;
//! 2. the profile `AWS_PROFILE` (else `default`) of the shared credentials file
//!    (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) or of the config file
//!    (`AWS_CONFIG_FILE`, else `~/.aws/config`, section `[profile NAME]`), read by the
//!    `aws-creds` provider; the profile's `region` and `endpoint_url` come from the
//!    config file (its INI parser), unless the environment sets them;
//! 3. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`) and 4. the
//!    instance metadata: object_store's own providers — the metadata only unless
//!    `AWS_EC2_METADATA_DISABLED` is true.
//!
//! A profile the user named that does not exist, or that holds no keys (a role, SSO or
//! `credential_process` profile), is an error saying what to do, never a silent
//! fall-through to the instance metadata (on a laptop, a request to nowhere).

use std::path::PathBuf;

/// What supplies the credentials of an S3 tier.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// Keys (or anonymous access) in the environment: object_store's `AWS_*` reading.
    Environment,
    /// A profile of the shared files.
    Profile(Profile),
    /// Web identity or the instance metadata: object_store's providers.
    Provider,
}

/// The keys and settings of one profile.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
    /// From the config file, when the environment does not set one.
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Why no credentials could be found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Problem {
    #[error("AWS profile `{name}` (AWS_PROFILE) is in neither `{credentials}` nor `{config}`")]
    NoSuchProfile {
        name: String,
        credentials: String,
        config: String,
    },
    #[error(
        "AWS profile `{name}` holds no keys (a role, SSO or credential_process profile); \
         kdb reads static keys: run `eval $(aws configure export-credentials --profile {name} --format env)` first"
    )]
    NoKeys { name: String },
    #[error("cannot read AWS profile `{name}` from `{file}`: {why}")]
    Unreadable {
        name: String,
        file: String,
        why: String,
    },
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE \
         with ~/.aws/credentials (AWS_EC2_METADATA_DISABLED forbids the instance metadata)"
    )]
    Nothing,
}

/// The source of credentials, by the order above, from `var` (the environment).
pub fn source(var: &dyn Fn(&str) -> Option<String>) -> Result<Source, Problem> {
    let set = |k: &str| var(k).is_some_and(|v| !v.trim().is_empty());
    let truthy = |k: &str| var(k).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if set("AWS_ACCESS_KEY_ID") || truthy("AWS_SKIP_SIGNATURE") {
        return Ok(Source::Environment);
    }
    let named = var("AWS_PROFILE").filter(|p| !p.trim().is_empty());
    let name = named.clone().unwrap_or_else(|| "default".to_owned());
    let home = var("HOME").map(PathBuf::from);
    let file = |env: &str, rel: &str| {
        var(env)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(rel)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config = file("AWS_CONFIG_FILE", ".aws/config");
    let config_section = if name == "default" {
        "default".to_owned()
    } else {
        format!("profile {name}")
    };
    // The keys: the credentials file's section, else the config file's.
    let mut found_section = false;
    for (path, section) in [(&credentials, name.as_str()), (&config, &config_section)] {
        let Some(path) = path.as_ref().filter(|p| p.is_file()) else {
            continue;
        };
        let ini = ini::Ini::load_from_file(path).map_err(|e| Problem::Unreadable {
            name: name.clone(),
            file: path.display().to_string(),
            why: e.to_string(),
        })?;
        if ini.section(Some(section)).is_none() {
            continue;
        }
        found_section = true;
        if let Ok(keys) = awscreds::Credentials::from_credentials_file(path, Some(section))
            && let (Some(key_id), Some(secret)) = (keys.access_key, keys.secret_key)
        {
            let settings = config
                .as_ref()
                .and_then(|c| ini::Ini::load_from_file(c).ok());
            let setting = |key: &str| {
                settings
                    .as_ref()
                    .and_then(|s| s.section(Some(config_section.as_str()))?.get(key))
                    .map(str::to_owned)
            };
            return Ok(Source::Profile(Profile {
                name: name.clone(),
                key_id,
                secret,
                token: keys.session_token.or(keys.security_token),
                region: setting("region"),
                endpoint: setting("endpoint_url"),
            }));
        }
    }
    if found_section {
        return Err(Problem::NoKeys { name });
    }
    if named.is_some() {
        let shown = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or_else(|| "(no home)".to_owned(), |p| p.display().to_string())
        };
        return Err(Problem::NoSuchProfile {
            name,
            credentials: shown(&credentials),
            config: shown(&config),
        });
    }
    let web_identity = set("AWS_WEB_IDENTITY_TOKEN_FILE") && set("AWS_ROLE_ARN");
    let container =
        set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if !web_identity && !container && truthy("AWS_EC2_METADATA_DISABLED") {
        return Err(Problem::Nothing);
    }
    Ok(Source::Provider)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(files: &[(&str, &str)], vars: &[(&str, &str)]) -> Result<Source, Problem> {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            #[allow(clippy::disallowed_methods)]
            std::fs::write(&p, text).unwrap();
        }
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("HOME".into(), dir.path().display().to_string());
        source(&|k| env.get(k).cloned())
    }

    const CREDS: &str = "[default]\naws_access_key_id = D\naws_secret_access_key = ds\n\
                         [team]\naws_access_key_id = T\naws_secret_access_key = ts\naws_session_token = tok\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n[profile team]\nregion = us-east-2\n\
                          endpoint_url = http://127.0.0.1:9/\n[profile sso]\nsso_start_url = https://x\n";

    #[test]
    fn the_environment_comes_first() {
        let s = with(
            &[(".aws/credentials", CREDS)],
            &[("AWS_ACCESS_KEY_ID", "E")],
        );
        assert_eq!(s, Ok(Source::Environment));
    }

    #[test]
    fn the_named_profile_gives_keys_region_and_endpoint() {
        let s = with(
            &[(".aws/credentials", CREDS), (".aws/config", CONFIG)],
            &[("AWS_PROFILE", "team")],
        );
        let Ok(Source::Profile(p)) = s else {
            panic!("{s:?}")
        };
        assert_eq!((p.key_id.as_str(), p.secret.as_str()), ("T", "ts"));
        assert_eq!(p.token.as_deref(), Some("tok"));
        assert_eq!(p.region.as_deref(), Some("us-east-2"));
        assert_eq!(p.endpoint.as_deref(), Some("http://127.0.0.1:9/"));
        assert!(!format!("{p:?}").contains("ts"), "{p:?}");
    }

    #[test]
    fn the_default_profile_applies_without_aws_profile() {
        let s = with(&[(".aws/credentials", CREDS), (".aws/config", CONFIG)], &[]);
        let Ok(Source::Profile(p)) = s else {
            panic!("{s:?}")
        };
        assert_eq!((p.name.as_str(), p.key_id.as_str()), ("default", "D"));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn keys_in_the_config_file_count_too() {
        let config = "[profile cfg]\naws_access_key_id = C\naws_secret_access_key = cs\n";
        let s = with(&[(".aws/config", config)], &[("AWS_PROFILE", "cfg")]);
        assert!(
            matches!(s, Ok(Source::Profile(ref p)) if p.key_id == "C"),
            "{s:?}"
        );
    }

    #[test]
    fn a_named_profile_that_is_missing_or_keyless_is_an_error() {
        let files = [(".aws/credentials", CREDS), (".aws/config", CONFIG)];
        assert!(matches!(
            with(&files, &[("AWS_PROFILE", "nope")]),
            Err(Problem::NoSuchProfile { .. })
        ));
        assert!(matches!(
            with(&files, &[("AWS_PROFILE", "sso")]),
            Err(Problem::NoKeys { .. })
        ));
    }

    #[test]
    fn without_a_profile_the_providers_follow_unless_metadata_is_disabled() {
        assert_eq!(with(&[], &[]), Ok(Source::Provider));
        assert_eq!(
            with(&[], &[("AWS_EC2_METADATA_DISABLED", "true")]),
            Err(Problem::Nothing)
        );
        assert_eq!(
            with(
                &[],
                &[
                    ("AWS_EC2_METADATA_DISABLED", "true"),
                    ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                    ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                ]
            ),
            Ok(Source::Provider)
        );
    }
}
