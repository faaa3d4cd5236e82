//! PagerDuty Events API v2. Placeholder on the
//! `receiver` branch until the PagerDuty work lands.

use super::{BuildError, DeliveryError, Outcome};
use crate::action::Delivery;

/// A PagerDuty integration.
#[derive(Debug)]
pub struct PagerDuty {
    name: String,
}

impl PagerDuty {
    /// Sets up the destination `name` from the catalog.
    pub fn build(
        name: &str,
        _config: &edgewatch_catalog::model::PagerDuty,
        _env: &dyn Fn(&str) -> Option<String>,
        _client: reqwest::Client,
    ) -> Result<Self, BuildError> {
        Ok(Self { name: name.to_owned() })
    }

    pub(crate) async fn deliver(&self, _d: &Delivery<'_>) -> Result<Outcome, DeliveryError> {
        Err(DeliveryError::Permanent { reason: format!("{}: PagerDuty delivery is not built yet", self.name) })
    }
}
