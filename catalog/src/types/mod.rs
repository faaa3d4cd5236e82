//! Value types of the catalog: each parses and checks itself where it is read,
//! so a malformed value is reported at its own line.

pub(crate) mod decimal;
pub(crate) mod duration;
pub(crate) mod host;
pub(crate) mod ident;
pub(crate) mod net;
pub(crate) mod secret;
pub(crate) mod size;
pub(crate) mod status;
pub(crate) mod template;
pub(crate) mod text;
