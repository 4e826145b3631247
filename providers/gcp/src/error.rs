//! Mapping the client crates' errors onto [`ProviderError`], without attribute values.

use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::{Code, StatusDetails};
use provider_api::ProviderError;

/// What went wrong, for decisions the provider makes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    AlreadyExists,
    /// Another operation runs on the object (GKE `FAILED_PRECONDITION`, Cloud SQL 409
    /// `operationInProgress`, a resource in use).
    Busy,
    Throttled,
    Transient,
    Other,
}

/// The HTTP status of a service error, else the RPC code translated.
pub fn http_status(e: &GaxError) -> Option<u16> {
    e.http_status_code()
        .or_else(|| e.status().map(|s| code_to_http(s.code)))
}

fn code_to_http(code: Code) -> u16 {
    match code {
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Unavailable => 503,
        Code::Internal | Code::Unknown => 500,
        Code::FailedPrecondition | Code::InvalidArgument | Code::OutOfRange => 400,
        Code::PermissionDenied => 403,
        Code::Unauthenticated => 401,
        Code::DeadlineExceeded => 504,
        _ => 500,
    }
}

/// The `errors[].reason` values that mean "in use by, or waiting for, another object": Compute
/// answers them with a 400 whose body has `code`, `message` and `errors[]` but no `status`, so
/// the client reports the code `Unknown` and only the reasons (which google-cloud-gax keeps as
/// `ErrorInfo` details) say what happened (`compute/globalcomputeurlmap@…`: three 400
/// `resourceInUseByAnotherResource` while the URL map using them was being deleted).
const BUSY_REASONS: [&str; 3] = [
    "resourceInUseByAnotherResource",
    "resourceNotReady",
    "operationInProgress",
];

/// The `errors[].reason` (or `ErrorInfo.reason`) values of a service error.
pub fn reasons(e: &GaxError) -> Vec<&str> {
    e.status()
        .into_iter()
        .flat_map(|s| s.details.iter())
        .filter_map(|d| match d {
            StatusDetails::ErrorInfo(info) => Some(info.reason.as_str()),
            _ => None,
        })
        .collect()
}

pub fn kind(e: &GaxError) -> Kind {
    if e.is_authentication() {
        return Kind::Other;
    }
    if e.is_io() || e.is_connect() || e.is_timeout() || e.is_transient_and_before_rpc() {
        return Kind::Transient;
    }
    let message = e.status().map(|s| s.message.as_str()).unwrap_or_default();
    let code = e.status().map(|s| s.code);
    if matches!(http_status(e), Some(400 | 409))
        && reasons(e).iter().any(|r| BUSY_REASONS.contains(r))
    {
        return Kind::Busy;
    }
    match http_status(e) {
        Some(404) => Kind::NotFound,
        Some(409)
            if code == Some(Code::AlreadyExists)
                || (code != Some(Code::Aborted) && message.contains("already exists")) =>
        {
            Kind::AlreadyExists
        }
        Some(409) => Kind::Busy,
        Some(429) => Kind::Throttled,
        Some(500 | 502 | 503 | 504) => Kind::Transient,
        Some(400)
            if code == Some(Code::FailedPrecondition)
                && (message.contains("incompatible operation")
                    || message.contains("busy")
                    || message.contains("already being used")) =>
        {
            Kind::Busy
        }
        _ => Kind::Other,
    }
}

/// A provider error for a failed call; `what` names the call and object (never values).
pub fn provider_error(what: &str, e: &GaxError) -> ProviderError {
    let detail = summary(e);
    match kind(e) {
        Kind::NotFound => ProviderError::NotFound(format!("{what}: {detail}")),
        Kind::Throttled => ProviderError::Throttled(format!("{what}: {detail}")),
        Kind::Transient | Kind::Busy => ProviderError::Transient(format!("{what}: {detail}")),
        Kind::AlreadyExists | Kind::Other => {
            if e.is_authentication() {
                ProviderError::Other(format!("{what}: {detail}"))
            } else {
                ProviderError::Invalid(format!("{what}: {detail}"))
            }
        }
    }
}

/// One line: HTTP status, RPC status and the service's message (which never echoes request
/// values such as passwords), or the error's own display for transport and auth errors.
pub fn summary(e: &GaxError) -> String {
    match (e.status(), http_status(e)) {
        // Compute's errors carry no `status`: their reason says more than `UNKNOWN`.
        (Some(s), Some(code)) if s.code == Code::Unknown && !reasons(e).is_empty() => {
            format!("{code} {}: {}", reasons(e).join(", "), s.message)
        }
        (Some(s), Some(code)) => format!("{code} {}: {}", s.code.name(), s.message),
        (Some(s), None) => format!("{}: {}", s.code.name(), s.message),
        (None, Some(code)) => format!("HTTP {code}"),
        // Authentication: the credentials' own message (the innermost error) says it all.
        (None, None) if e.is_authentication() => {
            let mut last: &dyn std::error::Error = e;
            while let Some(s) = last.source() {
                last = s;
            }
            format!("cannot authenticate: {last}")
        }
        (None, None) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}
