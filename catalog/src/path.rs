//! Where a value sits inside a YAML document, as a list of keys and indexes.
//!
//! Paths are how decoding and validation name a place without carrying
//! positions around; [`crate::yaml::locate`] turns one into a line and column
//! only when a diagnostic needs it.

use std::fmt;

/// One step into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root, printed as `customers[2].slos.availability`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct YamlPath(pub(crate) Vec<Seg>);

impl YamlPath {
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Self(segs)
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Self(segs)
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_field_access() {
        let p = YamlPath::root().key("customers").index(2).key("slos").key("availability");
        assert_eq!(p.to_string(), "customers[2].slos.availability");
        assert_eq!(YamlPath::root().to_string(), "");
    }
}
