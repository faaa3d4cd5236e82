//! The catalog as written: one [`RawFile`] per YAML file, decoded tolerantly
//! and not yet merged, inherited or cross-checked.

pub(crate) mod customer;
pub(crate) mod destination;
pub(crate) mod file;
pub(crate) mod probe;
pub(crate) mod profile;
