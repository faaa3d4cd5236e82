//! Secrets: named in the catalog by reference, resolved when a service starts,
//! and never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::decode::{Cx, Decode};
use crate::path::YamlPath;
use crate::yaml::{Anchor, Value};

/// Where a secret is kept: an environment variable or a file.
///
/// The reference itself is not secret, so it may be shown; the value it leads
/// to is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `env:NAME`: the value of an environment variable.
    Env(String),
    /// `file:PATH`: the contents of a file, without a trailing newline.
    File(PathBuf),
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is not set, or empty.
    #[error("environment variable `{0}` is not set or empty")]
    MissingEnv(String),
    /// The file could not be read.
    #[error("cannot read secret file `{path}`: {source}", path = path.display())]
    File {
        /// The file named in the catalog.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("secret file `{}` is empty", .0.display())]
    EmptyFile(PathBuf),
}

impl SecretRef {
    /// Reads the secret. `env` looks up environment variables (pass
    /// `|k| std::env::var(k).ok()`; tests pass their own).
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Secret, SecretError> {
        match self {
            Self::Env(name) => {
                env(name).filter(|v| !v.is_empty()).map(Secret).ok_or_else(|| SecretError::MissingEnv(name.clone()))
            }
            Self::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| SecretError::File { path: path.clone(), source })?;
                let value = text.trim_end_matches(['\r', '\n']);
                if value.is_empty() {
                    return Err(SecretError::EmptyFile(path.clone()));
                }
                Ok(Secret(value.to_owned()))
            }
        }
    }

    /// The file the secret is read from, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File(p) => Some(p),
            Self::Env(_) => None,
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for SecretRef {
    type Err = String;

    /// Parses `env:NAME` or `file:PATH`; the error never repeats the input,
    /// which may be the secret itself.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(name) = s.strip_prefix("env:") {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return if valid {
                Ok(Self::Env(name.to_owned()))
            } else {
                Err(format!("`env:{name}` does not name an environment variable"))
            };
        }
        if let Some(file) = s.strip_prefix("file:") {
            return if file.trim().is_empty() {
                Err("`file:` needs a path".to_owned())
            } else {
                Ok(Self::File(PathBuf::from(file)))
            };
        }
        Err(format!("inline secret: secrets must be references, not values; {INLINE_HINT}"))
    }
}

impl<'de> serde::Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret reference, `env:NAME` or `file:PATH`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretRef, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

const INLINE_HINT: &str =
    "write `env:NAME` to read it from an environment variable, or `file:PATH` to read it from a file";

impl Decode for SecretRef {
    fn decode(v: &Value, path: &YamlPath, cx: &mut Cx<'_>) -> Option<Self> {
        let Value::String(s) = v else {
            // Never echo the value: it may be the secret itself.
            cx.error(path, Anchor::Value, "inline secret: secrets must be references, not values").hint(INLINE_HINT);
            return None;
        };
        if let Some(name) = s.strip_prefix("env:") {
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                cx.error(path, Anchor::Value, format!("`env:{name}` does not name an environment variable"))
                    .hint("variable names are letters, digits and `_`, and do not start with a digit");
                return None;
            }
            return Some(Self::Env(name.to_owned()));
        }
        if let Some(file) = s.strip_prefix("file:") {
            if file.trim().is_empty() {
                cx.error(path, Anchor::Value, "`file:` needs a path, as in `file:/run/secrets/jira-token`");
                return None;
            }
            return Some(Self::File(PathBuf::from(file)));
        }
        cx.error(path, Anchor::Value, "inline secret: secrets must be references, not values").hint(INLINE_HINT);
        None
    }
}

/// A secret value. `Debug` and `Display` print `**REDACTED**`; the value is
/// only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from somewhere other than a [`SecretRef`].
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this secret, in time that does not depend on
    /// where they differ (for tokens presented to our servers).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        // Lengths are not secret enough to hide; contents are.
        if expected.len() != candidate.len() {
            return false;
        }
        expected.iter().zip(candidate).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**REDACTED**")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**REDACTED**")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "**REDACTED** **REDACTED**");
        assert_eq!(s.expose(), "hunter2");
        assert!(s.matches(b"hunter2"));
        assert!(!s.matches(b"hunter3") && !s.matches(b"hunter") && !s.matches(b""));
    }

    #[test]
    fn resolves_from_env_and_file() {
        let env = |k: &str| (k == "TOKEN").then(|| "abc".to_owned());
        assert_eq!(SecretRef::Env("TOKEN".into()).resolve(env).unwrap().expose(), "abc");
        assert!(matches!(SecretRef::Env("NOPE".into()).resolve(env), Err(SecretError::MissingEnv(_))));
        let dir = std::env::temp_dir().join(format!("edgewatch-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(SecretRef::File(file.clone()).resolve(env).unwrap().expose(), "s3cret");
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(SecretRef::File(file).resolve(env), Err(SecretError::EmptyFile(_))));
        let _ = std::fs::remove_dir_all(dir);
    }
}
