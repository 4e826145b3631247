//! The token listener (`POST /token`, `GET /_sim/objects`) and the bearer tokens API
//! requests must carry.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};
use sim_kit::text::{base64_decode, parse_query, unix_now};

use crate::app::App;
use crate::world::ApiError;

/// The token listener: `POST /token`, `GET /_sim/objects`.
pub fn token_host(app: &App, method: &Method, uri: &Uri, body: &str) -> (u16, Value) {
    match (method.as_str(), uri.path()) {
        ("GET", "/_sim/objects") => (200, app.ticked().dump()),
        ("POST", "/token") => oauth_token(app, body),
        _ => {
            let e = ApiError::not_found(format!("gcp-sim token host: no {method} {}", uri.path()));
            (e.code, e.body())
        }
    }
}

fn oauth_error(code: u16, error: &str, description: &str) -> (u16, Value) {
    (
        code,
        json!({"error": error, "error_description": description}),
    )
}

/// `POST /token` with a JWT-bearer grant.
fn oauth_token(app: &App, body: &str) -> (u16, Value) {
    let form: BTreeMap<String, String> = parse_query(Some(body)).into_iter().collect();
    let get = |k: &str| form.get(k).map_or("", String::as_str);
    if get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type");
    }
    let parts: Vec<&str> = get("assertion").split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: expected three base64url parts",
        );
    };
    let decode = |s: &str| base64_decode(s).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let (Some(_), Some(claims)) = (decode(header), decode(payload)) else {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: header or payload is not base64url JSON",
        );
    };
    if signature.is_empty() || base64_decode(signature).is_none() {
        return oauth_error(400, "invalid_grant", "Invalid JWT Signature.");
    }
    let iss = claims["iss"].as_str().unwrap_or_default();
    if iss.is_empty() || claims["aud"].as_str().is_none_or(str::is_empty) {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: iss and aud are required",
        );
    }
    let Some(exp) = claims["exp"].as_i64() else {
        return oauth_error(400, "invalid_grant", "Invalid JWT: exp is required");
    };
    if exp < unix_now() {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    let token = app.issue_token(iss);
    (
        200,
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

pub fn authenticate(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return Err(ApiError::new(
            401,
            "UNAUTHENTICATED",
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ));
    };
    match app.tokens.user(token.trim()) {
        Some(user) => Ok(user),
        None => Err(ApiError::new(
            401,
            "UNAUTHENTICATED",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )),
    }
}
