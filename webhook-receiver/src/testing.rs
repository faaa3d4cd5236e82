//! What the crate's integration tests reach besides the public face: one
//! destination on its own, the actions it is given, and the clock's
//! formats. Compiled only with the `testing` feature, which the crate's
//! dev-dependency on itself turns on; not an API.

use std::time::Duration;

pub use crate::action::{ActionKind, AlertState, Change, Delivery, Incident, Link, Message, Status};
pub use crate::dest::{DeliveryError, Destination, Outcome};
pub use crate::time::{now_ms, parse_rfc3339, rfc3339};
use crate::{DestinationError, dest};

/// The catalog's destination `name`, set up as the receiver sets it up, with
/// an HTTP client of its own whose requests give up after `timeout`.
pub fn destination(
    name: &str,
    config: &edgewatch_catalog::model::Destination,
    env: &dyn Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Result<Destination, DestinationError> {
    let client = dest::http::client(timeout)
        .map_err(|source| DestinationError::Client { destination: name.to_owned(), source })?;
    Destination::build(name, config, env, &client, timeout)
}
