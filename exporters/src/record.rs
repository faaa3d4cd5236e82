//! One HTTP request log record: the fields edgewatch reads from a request,
//! whatever format its line was written in. A leaf: the formats of
//! [`crate::format`] fill records, batches count them.
//!
//! Strings borrow from the line where the format allows (`Cow`).

use std::borrow::Cow;

use serde::Deserialize;

use crate::timestamp::Timestamp;

/// The fields edgewatch reads from a request record. Strings stay bytes as
/// read and are checked for UTF-8 only where text is needed: a batch checks
/// a host the first time it sees it, exemplars and top offenders check the
/// request id and client fields for the minority of lines they take, and
/// cache status and security action are only compared with fixed names.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Record<'a> {
    pub(crate) host: Option<Cow<'a, [u8]>>,
    pub(crate) zone: Option<Cow<'a, [u8]>>,
    pub(crate) edge_status: Option<u16>,
    /// 0 means the origin never answered.
    pub(crate) origin_status: Option<u16>,
    /// Edge time to first byte, seconds.
    pub(crate) ttfb: Option<f64>,
    /// Origin response duration, seconds.
    pub(crate) origin_duration: Option<f64>,
    pub(crate) cache_status: Option<Cow<'a, [u8]>>,
    /// `SecurityAction`, or the older `WAFAction` when that is all there is.
    pub(crate) security_action: Option<Cow<'a, [u8]>>,
    pub(crate) bytes: Option<u64>,
    pub(crate) ray_id: Option<Cow<'a, [u8]>>,
    pub(crate) end: Option<Timestamp>,
    pub(crate) client_ip: Option<Cow<'a, [u8]>>,
    pub(crate) client_asn: Option<u64>,
    pub(crate) client_country: Option<Cow<'a, [u8]>>,
    pub(crate) path: Option<Cow<'a, [u8]>>,
    pub(crate) user_agent: Option<Cow<'a, [u8]>>,
}

/// A field of a record, as a format's options name it (a JSON log's
/// `fields` map: `edge_status: status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Request host.
    Host,
    /// DNS zone.
    Zone,
    /// Status sent to the client.
    EdgeStatus,
    /// Status from the origin (0: no answer).
    OriginStatus,
    /// Time to first byte (a duration: give its unit).
    Ttfb,
    /// Origin response time (a duration: give its unit).
    OriginDuration,
    /// Cache status.
    CacheStatus,
    /// Security action, whether it stopped the request or not.
    SecurityAction,
    /// Response bytes.
    Bytes,
    /// Request id, for exemplars.
    RayId,
    /// Time the response ended.
    End,
    /// Client address.
    ClientIp,
    /// Client network.
    ClientAsn,
    /// Client country.
    ClientCountry,
    /// Request path.
    Path,
    /// Client user agent.
    UserAgent,
}

/// The unit a log writes a duration in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Seconds (nginx `$request_time`).
    S,
    /// Milliseconds (Logpush, Envoy `%DURATION%`).
    Ms,
    /// Microseconds.
    Us,
}

impl Unit {
    /// The duration in seconds; negative or non-finite values read as absent.
    pub(crate) fn to_secs(self, v: Option<f64>) -> Option<f64> {
        let v = v.filter(|v| v.is_finite() && *v >= 0.0)?;
        Some(match self {
            Self::S => v,
            Self::Ms => v / 1e3,
            Self::Us => v / 1e6,
        })
    }
}

/// An HTTP status from a number; out-of-range values read as absent.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
pub(crate) fn as_status(v: Option<f64>) -> Option<u16> {
    v.filter(|v| (0.0..1000.0).contains(v) && v.fract() == 0.0).map(|v| v as u16)
}

/// A non-negative count.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // range checked
pub(crate) fn as_count(v: Option<f64>) -> Option<u64> {
    v.filter(|v| v.is_finite() && *v >= 0.0 && *v < 1.8e19).map(|v| v as u64)
}
