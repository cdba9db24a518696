//! Where a secret comes from: an environment variable or a file, never the
//! configuration file itself.
//!
//! Why a module of its own: a password in `userphoto.toml` ends up in
//! backups, tickets and screenshots. So the configuration names *where* the
//! secret is (`password_env`, `password_file`, `client_secret_env`, …), the
//! secret is read only when a target is opened, it is held as a
//! [`SecretString`] (zeroed on drop, `Debug` redacted), and no message here
//! ever contains it — only the variable's or the file's name.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::error::{Error, Result};

/// Where to read one secret from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file (one trailing newline is dropped).
    File(PathBuf),
}

impl SecretSource {
    /// Builds the source from a section's `<name>_env` / `<name>_file` pair.
    ///
    /// `origin` names the place for messages, e.g. `[ad] in userphoto.toml`;
    /// `name` is the key stem, e.g. `password`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when both keys are given, or (if `required`)
    /// neither.
    pub fn from_keys(
        env: Option<&str>,
        file: Option<&Path>,
        origin: &str,
        name: &str,
        required: bool,
    ) -> Result<Option<Self>> {
        match (env, file) {
            (Some(_), Some(_)) => Err(Error::InvalidConfig {
                message: format!(
                    "{origin} has both {name}_env and {name}_file; keep one of them"
                ),
            }),
            (Some(var), None) if var.trim().is_empty() => Err(Error::InvalidConfig {
                message: format!(
                    "{origin}: {name}_env is empty; write the name of an environment variable, e.g. {name}_env = \"USERPHOTO_PASSWORD\""
                ),
            }),
            (Some(var), None) => Ok(Some(SecretSource::Env(var.to_owned()))),
            (None, Some(path)) => Ok(Some(SecretSource::File(path.to_owned()))),
            (None, None) if required => Err(Error::InvalidConfig {
                message: format!(
                    "{origin} has no {name}_env or {name}_file; write {name}_env = \"VARIABLE\" (an environment variable holding it) or {name}_file = \"/path/to/file\""
                ),
            }),
            (None, None) => Ok(None),
        }
    }

    /// Reads the secret.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the variable or file (never the
    /// value) when it is unset, empty or unreadable.
    pub fn resolve(&self, origin: &str) -> Result<SecretString> {
        let value = match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    return Err(Error::InvalidConfig {
                        message: format!(
                            "the environment variable {var} named in {origin} is not set; export it before running userphoto"
                        ),
                    })
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Error::InvalidConfig {
                        message: format!(
                            "the environment variable {var} named in {origin} is not valid UTF-8; set it again"
                        ),
                    })
                }
            },
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text)
                    .to_owned(),
                Err(e) => {
                    return Err(Error::InvalidConfig {
                        message: format!(
                            "cannot read the secret file {} named in {origin} ({e}); check the path and its permissions",
                            path.display()
                        ),
                    })
                }
            },
        };
        if value.is_empty() {
            return Err(Error::InvalidConfig {
                message: format!("{self} named in {origin} is empty; put the secret in it"),
            });
        }
        Ok(SecretString::from(value))
    }
}

impl fmt::Display for SecretSource {
    /// `the environment variable X` / `the file /path` — never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "the environment variable {var}"),
            SecretSource::File(path) => write!(f, "the file {}", path.display()),
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => f.debug_tuple("Env").field(var).finish(),
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn both_or_neither_is_an_error() {
        let both = SecretSource::from_keys(
            Some("A"),
            Some(Path::new("f")),
            "[ad] in x.toml",
            "password",
            true,
        );
        assert!(both
            .expect_err("both")
            .to_string()
            .contains("both password_env and password_file"));
        let neither = SecretSource::from_keys(None, None, "[ad] in x.toml", "password", true);
        assert!(neither
            .expect_err("neither")
            .to_string()
            .contains("password_env = \"VARIABLE\""));
        assert_eq!(
            SecretSource::from_keys(None, None, "x", "password", false).ok(),
            Some(None)
        );
    }

    #[test]
    fn reads_a_file_without_its_newline_and_never_prints_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").expect("write");
        let source = SecretSource::File(path);
        let secret = source.resolve("[ad]").expect("resolve");
        assert_eq!(secret.expose_secret(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
        assert!(!format!("{source:?} {source}").contains("s3cret"));
    }

    #[test]
    fn unset_variable_is_named() {
        let source = SecretSource::Env("USERPHOTO_TEST_SURELY_UNSET_42".into());
        let err = source.resolve("[ldap] in a.toml").expect_err("unset");
        let text = err.to_string();
        assert!(text.contains("USERPHOTO_TEST_SURELY_UNSET_42"), "{text}");
        assert!(text.contains("[ldap] in a.toml"), "{text}");
    }
}
