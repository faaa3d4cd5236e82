//! edgewatch receiver: the Alertmanager webhook target. Every notification
//! is stored durably before the answer, grouped into incidents under a key
//! that does not depend on Alertmanager's routes, enriched from the catalog
//! and Prometheus, and delivered to the destinations the catalog routes it
//! to (Jira, PagerDuty, a log), in order, with retries and dead letters.

pub mod action;
pub mod dest;
