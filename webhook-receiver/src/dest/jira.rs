//! Jira Cloud (REST v3) and Data Center (REST v2). Placeholder on the
//! `receiver` branch until the Jira work lands.

use super::{BuildError, DeliveryError, Outcome};
use crate::action::Delivery;

/// A Jira site and project.
#[derive(Debug)]
pub struct Jira {
    name: String,
}

impl Jira {
    /// Sets up the destination `name` from the catalog.
    pub fn build(
        name: &str,
        _config: &edgewatch_catalog::model::Jira,
        _env: &dyn Fn(&str) -> Option<String>,
        _client: reqwest::Client,
    ) -> Result<Self, BuildError> {
        Ok(Self { name: name.to_owned() })
    }

    pub(crate) async fn deliver(&self, _d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        Err(DeliveryError::Permanent { reason: format!("{}: Jira delivery is not built yet", self.name) })
    }
}
