//! The contract test of the simulator: replays HTTP logs recorded against the real Google
//! Cloud APIs and compares each of the simulator's answers with the recorded one.
//!
//! The logs are k8s-config-connector's golden `_http.log` files (see `sims/real/README.md`):
//! exchanges separated by `---` lines, each a request line, headers, an optional body, a
//! status line, headers and an optional body ([`parse_log`]). Every log is replayed against
//! a fresh simulator started in-process; each request goes to the listener of its API
//! ([`route`]: `sqladmin` `v1beta4` and `container` `v1beta1` paths are sent as `v1`, the
//! version ss calls), or is skipped with a reason ([`SKIPS`]: APIs ss never calls).
//!
//! The logs' placeholders (`${projectId}`, `${uniqueId}`, `${operationID}`, …) become real
//! values ([`Bindings`]): `${projectId}` is the replay's project, `${projectNumber}` the
//! simulator's number of it, `${uniqueId}` a fixed token. A placeholder in a request path
//! first takes the text the log's own links and resource names show at its place
//! ([`aliases`]: KCC writes `…/addresses/${addressID}` in URLs and
//! `…/addresses/computeaddress-${uniqueId}` in answers); failing that, a placeholder first met
//! in a request gets a fresh valid name (a new one for each object the log names with it),
//! and one first met in a recorded answer is bound to what the simulator answered at the
//! same JSON path, rebound by each later answer (KCC writes every operation id as the same
//! `${operationID}`; a poll takes the operation whose target the recorded answer shows).
//! Recorded ids KCC left as they were (Service Networking operations) map to the
//! simulator's through the answers that showed both, and normalised fingerprints in request
//! bodies become the ones the simulator last showed for the object.
//!
//! An answer matches when it has the recorded status code and, for JSON bodies, the same set
//! of field paths with the same JSON types ([`shape`]: list elements merged into one shape),
//! except the fields of [`ignore::IGNORED`]. A request KCC sent to a beta version has its
//! recorded answer compared only by the fields the v1 discovery document defines
//! ([`restrict`]). KCC elides repeated polls, so a recorded `GET` that shows a finished
//! operation or an object in a terminal state is re-sent until the simulator agrees (bounded
//! by [`Options::poll_timeout`]) before the comparison.

pub mod ignore;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Config;
use crate::discovery::{Api, Discovery, Doc};

// ---------------------------------------------------------------------------------------
// The log format.

/// A request or response body as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body (only blank lines).
    Empty,
    /// A body that parses as JSON.
    Json(Value),
    /// Any other text.
    Text(String),
}

impl Body {
    fn parse(lines: &[&str]) -> Body {
        let text = lines.join("\n");
        let text = text.trim_matches('\n');
        if text.trim().is_empty() {
            return Body::Empty;
        }
        match serde_json::from_str(text) {
            Ok(v) => Body::Json(v),
            Err(_) => Body::Text(text.to_string()),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Body::Empty => "no body",
            Body::Json(_) => "a JSON body",
            Body::Text(_) => "a text body",
        }
    }
}

/// One recorded request and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub method: String,
    /// The full URL as recorded (`https://HOST/PATH?QUERY`, placeholders included).
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Body,
    /// `None` when the log holds no status line for this request.
    pub status: Option<u16>,
    pub status_text: String,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Body,
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// `METHOD URL` (the URL without whitespace).
fn request_line(line: &str) -> Option<(String, String)> {
    let (method, url) = line.split_once(' ')?;
    if !METHODS.contains(&method) || url.is_empty() || url.contains(char::is_whitespace) {
        return None;
    }
    Some((method.to_string(), url.to_string()))
}

/// `Name: value` with a name of letters, digits and hyphens.
fn is_header(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

fn header(line: &str) -> (String, String) {
    let (k, v) = line.split_once(':').unwrap_or((line, ""));
    (k.trim().to_string(), v.trim().to_string())
}

/// `NNN` or `NNN reason`.
fn status_line(line: &str) -> Option<(u16, String)> {
    let code = line.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = &line[3..];
    let reason = if rest.is_empty() {
        ""
    } else {
        rest.strip_prefix(' ')?
    };
    Some((code.parse().ok()?, reason.to_string()))
}

/// One exchange from the text between two `---` lines; `None` when it has no request line.
fn parse_block(block: &str) -> Option<Exchange> {
    let lines: Vec<&str> = block.split('\n').collect();
    let first = lines.iter().position(|l| !l.trim().is_empty())?;
    let lines = &lines[first..];
    let (method, url) = request_line(lines.first()?.trim())?;
    let mut i = 1;
    while i < lines.len() && !lines[i].trim().is_empty() && is_header(lines[i]) {
        i += 1;
    }
    let request_headers = lines[1..i].iter().map(|l| header(l)).collect();
    // The status line is the first `NNN text` line after the request headers that starts the
    // block's second half: right after the headers or after a blank line, and followed by a
    // header or a blank line (a body here is a JSON object or list, never a bare number).
    let status_at = (i..lines.len()).find(|&j| {
        let after_blank = j == i || lines[j - 1].trim().is_empty();
        let next = lines.get(j + 1).copied().unwrap_or("");
        after_blank
            && status_line(lines[j].trim()).is_some()
            && (next.trim().is_empty() || is_header(next))
    });
    let Some(s) = status_at else {
        return Some(Exchange {
            method,
            url,
            request_headers,
            request_body: Body::parse(&lines[i..]),
            status: None,
            status_text: String::new(),
            response_headers: Vec::new(),
            response_body: Body::Empty,
        });
    };
    let (status, status_text) = status_line(lines[s].trim())?;
    let mut k = s + 1;
    while k < lines.len() && !lines[k].trim().is_empty() && is_header(lines[k]) {
        k += 1;
    }
    Some(Exchange {
        method,
        url,
        request_headers,
        request_body: Body::parse(&lines[i..s]),
        status: Some(status),
        status_text,
        response_headers: lines[s + 1..k].iter().map(|l| header(l)).collect(),
        response_body: Body::parse(&lines[k..]),
    })
}

/// Parses a log: the exchanges between lines that are exactly `---`, in order (the logic of
/// `sims/real/gcp/extract.py`). Blocks without a request line are left out.
pub fn parse_log(text: &str) -> Vec<Exchange> {
    let text = format!("\n{}\n", text.replace("\r\n", "\n"));
    text.split("\n---\n").filter_map(parse_block).collect()
}

// ---------------------------------------------------------------------------------------
// Routing and skips.

/// A kind of request the replay does not send, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipRule {
    pub host: &'static str,
    /// `None`: every method.
    pub method: Option<&'static str>,
    /// Path segments; `*` is any one segment, a final `**` any rest (also none).
    pub path: &'static str,
    pub reason: &'static str,
}

/// The requests the replay skips: APIs and methods ss never calls (one place, each with why).
pub const SKIPS: &[SkipRule] = &[
    SkipRule {
        host: "storage.googleapis.com",
        method: None,
        path: "/**",
        reason: "Cloud Storage (storage.googleapis.com): ss never calls it",
    },
    SkipRule {
        host: "pubsub.googleapis.com",
        method: None,
        path: "/**",
        reason: "Pub/Sub (pubsub.googleapis.com): ss never calls it",
    },
    SkipRule {
        host: "cloudkms.googleapis.com",
        method: None,
        path: "/**",
        reason: "Cloud KMS (cloudkms.googleapis.com): ss never calls it",
    },
    SkipRule {
        host: "cloudresourcemanager.googleapis.com",
        method: Some("GET"),
        path: "/v1/projects/*",
        reason: "Resource Manager projects.get (cloudresourcemanager.googleapis.com): ss never \
                 calls it",
    },
    SkipRule {
        host: "compute.googleapis.com",
        method: None,
        path: "/compute/v1/projects/*/zones/*/instanceGroupManagers/**",
        reason: "compute instanceGroupManagers (the VM groups behind GKE node pools): ss never \
                 calls it",
    },
];

/// How a host's paths reach the simulator: `from` prefix rewritten to `to`, sent to the
/// listener named `api` in [`crate::Urls::to_json`].
struct HostRoute {
    host: &'static str,
    from: &'static str,
    to: &'static str,
    api: &'static str,
}

/// The hosts the simulator serves (or will serve: a listener the simulator does not have
/// yet is looked up by name at run time, and its requests are skipped until it exists).
/// KCC calls sqladmin at `v1beta4` and container at `v1beta1`; their JSON shapes are the
/// same in `v1`, which the simulator serves (`sims/real/gcp/SOURCES.md`).
const HOSTS: &[HostRoute] = &[
    HostRoute {
        host: "compute.googleapis.com",
        from: "/compute/v1/",
        to: "/compute/v1/",
        api: "compute",
    },
    HostRoute {
        host: "sqladmin.googleapis.com",
        from: "/sql/v1beta4/",
        to: "/v1/",
        api: "sqladmin",
    },
    HostRoute {
        host: "sqladmin.googleapis.com",
        from: "/v1/",
        to: "/v1/",
        api: "sqladmin",
    },
    HostRoute {
        host: "container.googleapis.com",
        from: "/v1beta1/",
        to: "/v1/",
        api: "container",
    },
    HostRoute {
        host: "container.googleapis.com",
        from: "/v1/",
        to: "/v1/",
        api: "container",
    },
    HostRoute {
        host: "redis.googleapis.com",
        from: "/v1/",
        to: "/v1/",
        api: "redis",
    },
    HostRoute {
        host: "servicenetworking.googleapis.com",
        from: "/v1/",
        to: "/v1/",
        api: "servicenetworking",
    },
    HostRoute {
        host: "networkconnectivity.googleapis.com",
        from: "/v1/",
        to: "/v1/",
        api: "networkconnectivity",
    },
];

/// Hosts older logs use for several APIs: (host, path prefix, the API's own host).
const LEGACY_HOSTS: [(&str, &str, &str); 2] = [
    ("www.googleapis.com", "/compute/", "compute.googleapis.com"),
    ("www.googleapis.com", "/sql/", "sqladmin.googleapis.com"),
];

/// Where one recorded request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the simulator's listener `api` (a key of [`crate::Urls::to_json`]) at `path`.
    Sim {
        api: &'static str,
        path: String,
    },
    Skip(String),
}

/// A URL's host, path and query (`None` when it has no `?`).
pub fn split_url(url: &str) -> (&str, &str, Option<&str>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    match path_query.split_once('?') {
        Some((p, q)) => (host, p, Some(q)),
        None => (host, path_query, None),
    }
}

fn glob_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, p) in pat.iter().enumerate() {
        if *p == "**" {
            return true;
        }
        match segs.get(i) {
            Some(s) if *p == "*" || p == s => {}
            _ => return false,
        }
    }
    pat.len() == segs.len()
}

/// Where a recorded request goes, given the names of the simulator's listeners.
pub fn route(method: &str, url: &str, listeners: &BTreeSet<String>) -> Route {
    let (host, path, _) = split_url(url);
    // The old shared host serves compute and sqladmin under their service paths.
    let host = match LEGACY_HOSTS
        .iter()
        .find(|(old, prefix, _)| *old == host && path.starts_with(prefix))
    {
        Some((_, _, api_host)) => *api_host,
        None => host,
    };
    if let Some(rule) = SKIPS.iter().find(|r| {
        r.host == host && r.method.is_none_or(|m| m == method) && glob_matches(r.path, path)
    }) {
        return Route::Skip(rule.reason.to_string());
    }
    let on_host: Vec<&HostRoute> = HOSTS.iter().filter(|h| h.host == host).collect();
    if on_host.is_empty() {
        return Route::Skip(format!("the simulator does not serve {host}"));
    }
    let Some(h) = on_host.iter().find(|h| path.starts_with(h.from)) else {
        return Route::Skip(format!(
            "the simulator serves {host} only under {}",
            on_host
                .iter()
                .map(|h| h.from)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if !listeners.contains(h.api) {
        return Route::Skip(format!(
            "the simulator does not serve this API ({host}) yet"
        ));
    }
    Route::Sim {
        api: h.api,
        path: format!("{}{}", h.to, &path[h.from.len()..]),
    }
}

// ---------------------------------------------------------------------------------------
// Placeholders.

/// One piece of a text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Lit(&'a str),
    Hole(&'a str),
}

/// Splits `s` at its `${name}` placeholders (names of letters, digits and `_`).
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            if start > 0 {
                out.push(Piece::Lit(&rest[..start]));
            }
            out.push(Piece::Hole(&after[..name_len]));
            rest = &after[name_len + 1..];
        } else {
            out.push(Piece::Lit(&rest[..start + 2]));
            rest = after;
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    out
}

/// Rewrites an API link to its path from the API version on, so that links of the real
/// hosts (`https://www.googleapis.com/compute/v1/…`, `https://sqladmin.googleapis.com/sql/
/// v1beta4/…`) and of the simulator (`http://127.0.0.1:PORT/compute/v1/…`) compare equal.
fn link_path(s: &str) -> String {
    let path = match s.split_once("://") {
        Some((scheme, rest)) if scheme == "http" || scheme == "https" => {
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => return s.to_string(),
    };
    for (from, to) in [
        ("/sql/v1beta4/", "/v1/"),
        ("/v1beta1/", "/v1/"),
        ("/compute/beta/", "/compute/v1/"),
    ] {
        if let Some(rest) = path.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    path.to_string()
}

/// The values of the logs' placeholders during one replay.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Values set before the replay (`projectId`, `uniqueId`).
    preset: BTreeMap<String, String>,
    /// Values a request chose (an alias found in the log, or invented), oldest first (KCC
    /// names several objects of one log with the same placeholder): never rebound by an
    /// answer, since KCC also writes other values (a numeric `targetId`) as the same name.
    owned: BTreeMap<String, Vec<String>>,
    /// The names whose values were invented (no alias in the log).
    invented: BTreeSet<String>,
    /// The names first met in an answer: they stay bound by answers, and an alias found
    /// for one serves only the request it was found for.
    from_answers: BTreeSet<String>,
    /// Values taken from the simulator's answers, oldest first, each with the `targetLink`
    /// path of the answer that bound it: each later answer rebinds them, and a request
    /// whose recorded answer names a target takes the value bound with that target (KCC
    /// does not always poll operations in the order it started them).
    bound: BTreeMap<String, Vec<(String, Option<String>)>>,
    /// The choices for the request being sent (see [`Bindings::alias`]).
    current: BTreeMap<String, String>,
    /// Recorded resource ids (un-normalised, so they differ from the simulator's) to the
    /// simulator's id at the same place of an answer: a later request that names the
    /// recorded id names the simulator's.
    ids: BTreeMap<String, String>,
    unique_id: String,
}

impl Bindings {
    /// `${projectId}` is `project`, `${uniqueId}` is `unique_id` (lowercase letters and
    /// digits, so that names built from it stay RFC 1035 names).
    pub fn new(project: &str, unique_id: &str) -> Self {
        let mut preset = BTreeMap::new();
        preset.insert("projectId".to_string(), project.to_string());
        preset.insert("uniqueId".to_string(), unique_id.to_string());
        Bindings {
            preset,
            unique_id: unique_id.to_string(),
            ..Bindings::default()
        }
    }

    /// Sets a placeholder's value for the whole replay.
    pub fn preset(&mut self, name: &str, value: &str) {
        self.preset.insert(name.to_string(), value.to_string());
    }

    /// A placeholder's current value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.current
            .get(name)
            .or_else(|| self.preset.get(name))
            .or_else(|| self.owned.get(name).and_then(|v| v.last()))
            .or_else(|| self.bound.get(name).and_then(|v| v.last()).map(|(v, _)| v))
            .map(String::as_str)
    }

    /// Every value the replay invented for `name` (oldest first); empty when it was found
    /// in the log or taken from an answer instead.
    pub fn generations(&self, name: &str) -> &[String] {
        match self.owned.get(name) {
            Some(v) if self.invented.contains(name) => v,
            _ => &[],
        }
    }

    /// Invents a new value for `name` (for a new object the log names like an earlier one).
    pub fn renew(&mut self, name: &str) {
        let n = self.owned.get(name).map_or(0, Vec::len) + 1;
        let v = self.invent(name, n);
        self.owned.entry(name.to_string()).or_default().push(v);
        self.invented.insert(name.to_string());
    }

    /// For the request being sent, the value of `name` bound by the newest answer whose
    /// `targetLink` is the one the recorded answer (`recorded`) shows, if any.
    pub fn choose_by_target(&mut self, name: &str, recorded: &Value) {
        let Some(want) = recorded.get("targetLink").and_then(Value::as_str) else {
            return;
        };
        let want = link_path(&self.render(want));
        let found = self.bound.get(name).and_then(|values| {
            values
                .iter()
                .rev()
                .find(|(_, target)| target.as_deref() == Some(want.as_str()))
                .map(|(v, _)| v.clone())
        });
        if let Some(v) = found {
            self.choose(name, &v);
        }
    }

    /// Makes `value`, one of the values invented for `name`, the current one (for this
    /// request and the next ones, such as the poll of the operation it starts).
    pub fn prefer(&mut self, name: &str, value: &str) {
        if let Some(values) = self.owned.get_mut(name)
            && let Some(i) = values.iter().position(|v| v == value)
        {
            let v = values.remove(i);
            values.push(v);
        }
    }

    /// Uses `value` for `name` in the request being sent.
    pub fn choose(&mut self, name: &str, value: &str) {
        self.current.insert(name.to_string(), value.to_string());
    }

    /// Forgets the choices of the request sent.
    pub fn clear_choices(&mut self) {
        self.current.clear();
    }

    /// The names set before the replay.
    pub fn preset_names(&self) -> Vec<&str> {
        self.preset.keys().map(String::as_str).collect()
    }

    /// Whether an answer may (re)bind `name`: not when the replay chose its value.
    fn bindable(&self, name: &str) -> bool {
        !self.preset.contains_key(name) && !self.owned.contains_key(name)
    }

    /// Sets the aliases of the next request: each name stands for the text the log's own
    /// links show at its place (see [`aliases`]); they are remembered for later requests.
    pub fn alias(&mut self, aliases: &[(String, String)]) {
        for (name, text) in aliases {
            let value = self.fill(text);
            if self.from_answers.contains(name) {
                self.current.insert(name.clone(), value);
                continue;
            }
            let values = self.owned.entry(name.clone()).or_default();
            if values.last() != Some(&value) {
                values.push(value.clone());
            }
            self.invented.remove(name);
            self.current.insert(name.clone(), value);
        }
    }

    /// The `n`th value invented for `name`: digits for a name ending in `Number`, else an
    /// RFC 1035 name from the placeholder's name.
    fn invent(&self, name: &str, n: usize) -> String {
        if name.ends_with("Number") {
            // A stable 12-digit number per name (the size of a project number).
            let h = name.bytes().fold(1_469_598_103_934_665_603_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211)
            });
            return format!("{}", 100_000_000_000 + (h + n as u64) % 900_000_000_000);
        }
        let base: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(40)
            .collect();
        if n <= 1 {
            format!("{base}-{}", self.unique_id)
        } else {
            format!("{base}{n}-{}", self.unique_id)
        }
    }

    /// The value of `name`, invented (and kept) when it has none yet.
    fn value(&mut self, name: &str) -> String {
        if let Some(v) = self.get(name) {
            return v.to_string();
        }
        self.renew(name);
        self.get(name).unwrap_or_default().to_string()
    }

    /// `s` with the placeholders that have a value replaced (the others kept).
    fn render(&self, s: &str) -> String {
        pieces(s)
            .into_iter()
            .map(|p| match p {
                Piece::Lit(l) => l.to_string(),
                Piece::Hole(name) => self
                    .get(name)
                    .map_or_else(|| format!("${{{name}}}"), str::to_string),
            })
            .collect()
    }

    /// A request path with each segment that is a recorded resource id replaced by the
    /// simulator's id learnt from an earlier answer.
    pub fn translate_ids(&self, path: &str) -> String {
        path.split('/')
            .map(|seg| self.ids.get(seg).map_or(seg, String::as_str))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// `s` with every placeholder replaced by its value (invented when unknown).
    pub fn fill(&mut self, s: &str) -> String {
        let mut out = String::new();
        for p in pieces(s) {
            match p {
                Piece::Lit(l) => out.push_str(l),
                Piece::Hole(name) => out.push_str(&self.value(name)),
            }
        }
        out
    }

    /// A query string with its placeholders replaced by their percent-encoded values.
    fn fill_query(&mut self, q: &str) -> String {
        let mut out = String::new();
        for p in pieces(q) {
            match p {
                Piece::Lit(l) => out.push_str(l),
                Piece::Hole(name) => {
                    for b in self.value(name).bytes() {
                        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                            out.push(char::from(b));
                        } else {
                            let _ = write!(out, "%{b:02X}");
                        }
                    }
                }
            }
        }
        out
    }

    /// A JSON value with placeholders replaced in every string and key.
    pub fn fill_json(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.fill_json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (self.fill(k), self.fill_json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Binds the placeholders of a recorded answer to the simulator's answer: each recorded
    /// string with a placeholder is matched, as a template, against the simulator's string
    /// at the same JSON path (list elements by index); a placeholder that is not fixed takes
    /// the text it covers. Within one answer the first binding of a name wins.
    ///
    /// The resource names and links of the recorded answer (`name`, `selfLink`,
    /// `targetLink`) also teach their recorded ids: a path segment with a digit that the
    /// recording spells literally and the simulator otherwise (an operation id KCC left
    /// un-normalised) maps to the simulator's segment.
    pub fn bind(&mut self, recorded: &Value, answer: &Value) {
        let mut seen = BTreeMap::new();
        self.bind_walk(recorded, answer, &mut seen);
        let target = answer
            .get("targetLink")
            .and_then(Value::as_str)
            .map(link_path);
        for (name, value) in seen {
            self.from_answers.insert(name.clone());
            self.bound
                .entry(name)
                .or_default()
                .push((value, target.clone()));
        }
        if let (Value::Object(r), Value::Object(a)) = (recorded, answer) {
            for field in ["name", "selfLink", "targetLink"] {
                if let (Some(Value::String(rv)), Some(Value::String(av))) =
                    (r.get(field), a.get(field))
                {
                    self.learn_ids(rv, av);
                }
            }
        }
    }

    fn learn_ids(&mut self, recorded: &str, answer: &str) {
        // Only the preset placeholders are filled in: a segment that still holds one is a
        // name the replay chose, not a recorded id.
        let recorded: String = pieces(recorded)
            .into_iter()
            .map(|p| match p {
                Piece::Lit(l) => l.to_string(),
                Piece::Hole(n) => self
                    .preset
                    .get(n)
                    .map_or_else(|| format!("${{{n}}}"), String::clone),
            })
            .collect();
        let recorded = link_path(&recorded);
        let answer = link_path(answer);
        let r: Vec<&str> = recorded.split('/').collect();
        let a: Vec<&str> = answer.split('/').collect();
        if r.len() != a.len() {
            return;
        }
        for (rs, as_) in r.iter().zip(&a) {
            if rs != as_ && !rs.contains("${") && rs.contains(|c: char| c.is_ascii_digit()) {
                self.ids.insert((*rs).to_string(), (*as_).to_string());
            }
        }
    }

    fn bind_walk(&self, recorded: &Value, answer: &Value, seen: &mut BTreeMap<String, String>) {
        match (recorded, answer) {
            (Value::Object(r), Value::Object(a)) => {
                for (k, rv) in r {
                    if let Some(av) = a.get(k) {
                        self.bind_walk(rv, av, seen);
                    }
                }
            }
            (Value::Array(r), Value::Array(a)) => {
                for (rv, av) in r.iter().zip(a) {
                    self.bind_walk(rv, av, seen);
                }
            }
            (Value::String(r), Value::String(a)) if r.contains("${") => {
                let template = link_path(r);
                let value = link_path(a);
                let parts: Vec<Piece<'_>> = pieces(&template)
                    .into_iter()
                    .map(|p| match p {
                        Piece::Hole(n) if !self.bindable(n) => {
                            Piece::Lit(self.get(n).unwrap_or_default())
                        }
                        other => other,
                    })
                    .collect();
                if let Some(found) = match_template(&parts, &value) {
                    for (k, v) in found {
                        seen.entry(k.to_string()).or_insert(v);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Matches `s` against literal pieces and holes (each hole non-empty and within one path
/// segment: no `/`); the holes' texts.
fn match_template<'a>(parts: &[Piece<'a>], s: &str) -> Option<Vec<(&'a str, String)>> {
    match parts.split_first() {
        None => s.is_empty().then(Vec::new),
        Some((Piece::Lit(l), rest)) => match_template(rest, s.strip_prefix(l)?),
        Some((Piece::Hole(name), rest)) => {
            // Try every split, shortest hole first, so a hole stops at the first literal that
            // lets the rest match.
            let segment = s.find('/').unwrap_or(s.len());
            let mut ends: Vec<usize> = s[..segment]
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .collect();
            ends.push(segment);
            for end in ends {
                if let Some(mut found) = match_template(rest, &s[end..]) {
                    found.insert(0, (*name, s[..end].to_string()));
                    return Some(found);
                }
            }
            None
        }
    }
}

/// Every string in a JSON value that names a resource, as a path to match request paths
/// against: a link's path ([`link_path`], query dropped), or a relative resource name
/// (`operations/x`, `projects/p/…`) behind each of the first one to three segments of
/// `path` (the API's version prefix, which names leave out).
fn named_paths(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
            let p = link_path(s);
            out.push(p.split('?').next().unwrap_or_default().to_string());
        }
        Value::String(s) if s.contains('/') && !s.starts_with('/') && !s.contains(' ') => {
            let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            for k in 1..=3.min(segs.len()) {
                out.push(format!("/{}/{s}", segs[..k].join("/")));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| named_paths(x, path, out)),
        Value::Object(o) => o.values().for_each(|x| named_paths(x, path, out)),
        _ => {}
    }
}

/// What the placeholders of a request URL stand for, from the log itself. KCC writes an
/// object's name in request URLs as an id placeholder (`…/addresses/${addressID}`) while
/// its answers' links spell the name (`…/addresses/computeaddress-${uniqueId}`), and the
/// same placeholder names other objects later in the log. So the path (and, for a custom
/// method such as `…/${networkID}/removePeering`, the object's path) is matched against
/// the links and resource names of the answers from this exchange on (`answers`), the
/// first match wins: each placeholder other than those in `keep` gets the recorded text at
/// its place when that is not the placeholder itself.
pub fn aliases<'a>(
    url: &str,
    answers: impl IntoIterator<Item = &'a Body>,
    keep: &[&str],
) -> Vec<(String, String)> {
    let path = link_path(url.split('?').next().unwrap_or_default());
    let wanted = |parts: &[Piece<'_>]| {
        parts
            .iter()
            .any(|p| matches!(p, Piece::Hole(n) if !keep.contains(n)))
    };
    let mut templates = vec![path.clone()];
    // A custom method's object: the path up to the end of its last placeholder's segment.
    if let Some(end) = path.rfind('}')
        && let Some(cut) = path[end..].find(['/', ':'])
    {
        templates.push(path[..end + cut].to_string());
    }
    let templates: Vec<Vec<Piece<'_>>> = templates.iter().map(|t| pieces(t)).collect();
    if !templates.iter().any(|t| wanted(t)) {
        return Vec::new();
    }
    for body in answers {
        let Body::Json(v) = body else { continue };
        // The answer's own identity first: a link of another object (a peering's network)
        // may fit the same template.
        let mut found = Vec::new();
        for field in ["selfLink", "targetLink", "name"] {
            if let Some(x) = v.get(field) {
                named_paths(x, &path, &mut found);
            }
        }
        named_paths(v, &path, &mut found);
        for candidate in &found {
            for parts in &templates {
                if let Some(m) = match_template(parts, candidate) {
                    return m
                        .into_iter()
                        .filter(|(name, text)| {
                            !keep.contains(name) && *text != format!("${{{name}}}")
                        })
                        .map(|(name, text)| (name.to_string(), text))
                        .collect();
                }
            }
        }
    }
    Vec::new()
}

// ---------------------------------------------------------------------------------------
// Shapes.

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON value's shape: every field path (`a.b`, list elements as `a[]`, the top as ``)
/// with the set of JSON types found there (list elements merged into one shape).
pub fn shape(v: &Value) -> BTreeMap<String, BTreeSet<&'static str>> {
    fn walk(v: &Value, path: &str, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
        out.entry(path.to_string())
            .or_default()
            .insert(type_name(v));
        match v {
            Value::Object(o) => {
                for (k, c) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(c, &p, out);
                }
            }
            Value::Array(a) => {
                let p = format!("{path}[]");
                for c in a {
                    walk(c, &p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(v, "", &mut out);
    out
}

/// How a simulator's JSON answer differs from the recorded one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeDiff {
    /// `path:type` the recorded answer has and the simulator's lacks (top-most only).
    pub missing: Vec<String>,
    /// `path:type` the simulator's answer has and the recorded one lacks (top-most only).
    pub extra: Vec<String>,
    /// `path: real (real) vs sim (sim)` where both have the path with other types.
    pub types: Vec<String>,
}

impl ShapeDiff {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.types.is_empty()
    }
}

fn display_path(p: &str) -> &str {
    if p.is_empty() { "(body)" } else { p }
}

fn types(t: &BTreeSet<&str>) -> String {
    t.iter().copied().collect::<Vec<_>>().join("|")
}

/// Paths of `a` that `b` lacks, without those below another such path.
fn absent(
    a: &BTreeMap<String, BTreeSet<&'static str>>,
    b: &BTreeMap<String, BTreeSet<&'static str>>,
    excused: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut tops: Vec<&str> = Vec::new();
    for (p, t) in a {
        if b.contains_key(p) || excused(p) {
            continue;
        }
        if tops
            .iter()
            .any(|top| ignore::is_at_or_below(top, p) && !top.is_empty())
        {
            continue;
        }
        tops.push(p);
        out.push(format!("{}:{}", display_path(p), types(t)));
    }
    out
}

/// Compares the shapes of a recorded JSON answer and the simulator's, leaving out the
/// fields of [`ignore::IGNORED`].
pub fn compare(recorded: &Value, answer: &Value) -> ShapeDiff {
    compare_with(recorded, answer, ignore::IGNORED)
}

/// Compares the shapes of a recorded JSON answer and the simulator's, leaving out the
/// fields of `ignored`.
pub fn compare_with(recorded: &Value, answer: &Value, ignored: &[ignore::Ignored]) -> ShapeDiff {
    let r = shape(recorded);
    let a = shape(answer);
    let types = r
        .iter()
        .filter(|(p, _)| !ignore::is_ignored(ignored, p))
        .filter_map(|(p, rt)| {
            let at = a.get(p)?;
            (at != rt).then(|| {
                format!(
                    "{}: {} (real) vs {} (sim)",
                    display_path(p),
                    types(rt),
                    types(at)
                )
            })
        })
        .collect();
    ShapeDiff {
        missing: absent(&r, &a, |p| ignore::excuses_missing(ignored, p)),
        extra: absent(&a, &r, |p| ignore::excuses_extra(ignored, p)),
        types,
    }
}

/// At most `n` items, then `… (+K more)`.
fn list(items: &[String], n: usize) -> String {
    let mut s = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        let _ = write!(s, ", … (+{} more)", items.len() - n);
    }
    s
}

impl std::fmt::Display for ShapeDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing in sim: {}", list(&self.missing, 6)));
        }
        if !self.extra.is_empty() {
            parts.push(format!("extra in sim: {}", list(&self.extra, 6)));
        }
        if !self.types.is_empty() {
            parts.push(format!("type: {}", list(&self.types, 6)));
        }
        f.write_str(&parts.join("; "))
    }
}

// ---------------------------------------------------------------------------------------
// Polling.

/// The states a recorded `GET` of an object shows only when the object is ready.
const TERMINAL_STATES: [&str; 4] = ["RUNNABLE", "RUNNING", "ACTIVE", "READY"];

/// The states of an object on its way to one of [`TERMINAL_STATES`] (a failed or deleted
/// object never gets there, so it is not waited for).
const TRANSITIONAL_STATES: [&str; 9] = [
    "PENDING",
    "PENDING_CREATE",
    "PROVISIONING",
    "CREATING",
    "STAGING",
    "RECONCILING",
    "UPDATING",
    "REPAIRING",
    "MAINTENANCE",
];

fn finished_op(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("DONE")
        || v.get("done").and_then(Value::as_bool) == Some(true)
}

/// Whether the simulator's answer to a `GET` is behind the recorded one: the recording
/// shows a finished operation (or an object in a terminal state) that the simulator has
/// not reached yet (its object is in a transitional state). With integer enum encoding the
/// states are numbers; then any other number is behind.
fn behind(recorded: &Value, answer: &Value) -> bool {
    if finished_op(recorded) {
        return !finished_op(answer);
    }
    ["state", "status"]
        .iter()
        .any(|field| match (recorded.get(*field), answer.get(*field)) {
            (Some(Value::String(r)), Some(Value::String(a))) => {
                TERMINAL_STATES.contains(&r.as_str()) && TRANSITIONAL_STATES.contains(&a.as_str())
            }
            (Some(Value::Number(r)), Some(Value::Number(a))) => r != a,
            _ => false,
        })
}

// ---------------------------------------------------------------------------------------
// HTTP.

/// One answer of the simulator.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Body,
}

/// Sends one HTTP/1.1 request to the simulator (`base` is `http://HOST:PORT`) and reads the
/// whole answer (`Connection: close`).
async fn send(
    base: &str,
    method: &str,
    target: &str,
    token: &str,
    body: Option<&str>,
) -> Result<Answer, String> {
    let host = base.strip_prefix("http://").unwrap_or(base);
    let body = body.unwrap_or("");
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    let headers = format!("Authorization: Bearer {token}\r\n{content_type}");
    let answer = sim_kit::client::send(host, method, target, &headers, body).await?;
    Ok(Answer {
        status: answer.status,
        body: Body::parse(&[answer.body.as_str()]),
    })
}

// ---------------------------------------------------------------------------------------
// The replay.

/// Settings of a replay.
#[derive(Debug, Clone)]
pub struct Options {
    /// The simulator's operation phase time (short, so that a replay is quick).
    pub delay: Duration,
    /// How long a recorded finished state is waited for.
    pub poll_timeout: Duration,
    /// The bound on one request to the simulator.
    pub request_timeout: Duration,
    pub schema_dir: PathBuf,
    /// The value of `${projectId}`.
    pub project: String,
    /// The value of `${uniqueId}` (lowercase letters and digits).
    pub unique_id: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delay: Duration::from_millis(30),
            poll_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            schema_dir: crate::default_schema_dir(),
            project: "replay-project".to_string(),
            unique_id: "rpl7k2q".to_string(),
        }
    }
}

/// What the replay made of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Match,
    /// What differs.
    Mismatch(String),
    /// Why it was not sent.
    Skipped(String),
}

/// One replayed exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The log as named to the replay.
    pub file: String,
    /// 1-based position in the log.
    pub index: usize,
    pub method: String,
    /// The recorded URL's path (placeholders kept).
    pub path: String,
    pub verdict: Verdict,
}

impl Outcome {
    /// `FILE #N METHOD PATH: what differs` or `…: skipped: REASON`; `None` when it matches.
    pub fn line(&self) -> Option<String> {
        let what = match &self.verdict {
            Verdict::Match => return None,
            Verdict::Mismatch(what) => what.clone(),
            Verdict::Skipped(why) => format!("skipped: {why}"),
        };
        Some(format!(
            "{} #{} {} {}: {what}",
            self.file, self.index, self.method, self.path
        ))
    }
}

/// Every outcome of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(&o.verdict)).count()
    }

    pub fn matched(&self) -> usize {
        self.count(|v| *v == Verdict::Match)
    }

    pub fn skipped(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Skipped(_)))
    }

    /// The exchanges sent to the simulator.
    pub fn compared(&self) -> usize {
        self.outcomes.len() - self.skipped()
    }

    /// Whether every exchange that was sent matches.
    pub fn all_match(&self) -> bool {
        self.matched() == self.compared()
    }

    /// The lines of the mismatching and skipped exchanges.
    pub fn lines(&self) -> Vec<String> {
        self.outcomes.iter().filter_map(Outcome::line).collect()
    }

    /// `replay: M of N exchanges match, S skipped`.
    pub fn summary(&self) -> String {
        format!(
            "replay: {} of {} exchanges match, {} skipped",
            self.matched(),
            self.compared(),
            self.skipped()
        )
    }
}

fn error_message(body: &Body) -> Option<String> {
    let Body::Json(v) = body else { return None };
    let m = v.pointer("/error/message")?.as_str()?;
    let mut short: String = m.chars().take(200).collect();
    if short.len() < m.len() {
        short.push('…');
    }
    Some(short)
}

/// A recorded answer reduced to the fields `schema` (a discovery schema of `doc`) defines:
/// an object keeps only the properties the schema names (a map, `additionalProperties`,
/// keeps every key), and a value whose schema says nothing more is kept whole.
pub fn restrict(doc: &Doc, schema: &Value, v: &Value) -> Value {
    let mut schema = schema;
    // `$ref` chains are short; the bound only guards against a document that loops.
    for _ in 0..8 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(name) => match doc.schema(name) {
                Some(s) => schema = s,
                None => return v.clone(),
            },
            None => break,
        }
    }
    match v {
        Value::Object(o) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                Value::Object(
                    o.iter()
                        .filter_map(|(k, x)| Some((k.clone(), restrict(doc, props.get(k)?, x))))
                        .collect(),
                )
            } else if let Some(each) = schema.get("additionalProperties") {
                Value::Object(
                    o.iter()
                        .map(|(k, x)| (k.clone(), restrict(doc, each, x)))
                        .collect(),
                )
            } else {
                v.clone()
            }
        }
        Value::Array(a) => match schema.get("items") {
            Some(items) => Value::Array(a.iter().map(|x| restrict(doc, items, x)).collect()),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// Compares one answer with the recorded exchange (`recorded`: its answer as compared);
/// `None` when it matches.
fn judge(recorded: &Body, recorded_status: u16, answer: &Answer) -> Option<String> {
    if answer.status != recorded_status {
        let mut s = format!("status {recorded_status} (real) vs {} (sim)", answer.status);
        if let Some(m) = error_message(&answer.body) {
            let _ = write!(s, ": sim says {m:?}");
        }
        return Some(s);
    }
    match (recorded, &answer.body) {
        (Body::Json(r), Body::Json(a)) => {
            let diff = compare(r, a);
            (!diff.is_empty()).then(|| diff.to_string())
        }
        (Body::Empty, Body::Empty) | (Body::Text(_), Body::Text(_)) => None,
        (r, a) => Some(format!("body: {} (real) vs {} (sim)", r.kind(), a.kind())),
    }
}

/// The value KCC writes for every fingerprint and etag (`sims/real/gcp/SOURCES.md`).
const NORMALISED_FINGERPRINT: &str = "abcdef0123A=";

/// A running simulator with the state of one log's replay.
struct Session {
    listeners: BTreeMap<String, String>,
    discovery: std::sync::Arc<Discovery>,
    token: String,
    bindings: Bindings,
    /// The simulator's last `GET` answer for each path (without query).
    last_seen: BTreeMap<String, Value>,
}

impl Session {
    /// The discovery document and response schema of the v1 method a request path of the
    /// listener `api` calls.
    fn v1_schema(&self, api: &str, method: &str, path: &str) -> Option<(&Doc, &Value)> {
        let api = Api::ALL.into_iter().find(|a| a.name() == api)?;
        let doc = self.discovery.doc(api).ok()?;
        let found = doc.find(method, path).ok()?;
        let schema = doc.schema(found.method.response.as_deref()?)?;
        Some((doc, schema))
    }

    /// Replaces the normalised fingerprints of a request body by the ones the simulator last
    /// showed for the object (the path itself, without a `:verb`, or its parent for a
    /// custom method such as `…/setLabels`), as a real client sends what it read.
    fn fingerprints(&self, path: &str, body: &mut Value) {
        let Value::Object(fields) = body else { return };
        let base = path.rsplit_once(':').map_or(
            path,
            |(p, verb)| {
                if verb.contains('/') { path } else { p }
            },
        );
        let parent = base.rsplit_once('/').map_or(base, |(p, _)| p);
        for (k, v) in fields.iter_mut() {
            if v.as_str() != Some(NORMALISED_FINGERPRINT) {
                continue;
            }
            let seen = [path, base, parent]
                .iter()
                .find_map(|p| self.last_seen.get(*p)?.get(k)?.as_str());
            if let Some(seen) = seen {
                *v = Value::String(seen.to_string());
            }
        }
    }

    /// Picks the value of each invented placeholder of a request path when KCC names
    /// several objects with it: a recorded `GET` answered 404 that ends with the placeholder
    /// is about a new object (a new value); a request answered 2xx is about one that exists,
    /// so it takes the newest value the simulator holds an object of.
    fn generations(
        &mut self,
        path: &str,
        aliased: &[(String, String)],
        ex: &Exchange,
        recorded_status: u16,
        handle: &crate::Handle,
    ) {
        let names: Vec<&str> = pieces(path)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Hole(n) => Some(n),
                Piece::Lit(_) => None,
            })
            .filter(|n| !aliased.iter().any(|(a, _)| a == n))
            .collect();
        for name in names {
            if let Body::Json(recorded) = &ex.response_body {
                self.bindings.choose_by_target(name, recorded);
            }
            let values = self.bindings.generations(name).to_vec();
            if values.is_empty() {
                continue;
            }
            if ex.method == "GET"
                && recorded_status == 404
                && path.ends_with(&format!("${{{name}}}"))
            {
                self.bindings.renew(name);
            } else if values.len() > 1 && (200..300).contains(&recorded_status) {
                let dump = handle.objects();
                let held = |v: &str| {
                    dump["objects"].as_array().is_some_and(|objects| {
                        objects.iter().any(|o| {
                            o["deleting"] != Value::Bool(true)
                                && o["path"]
                                    .as_str()
                                    .is_some_and(|p| p.rsplit('/').next() == Some(v))
                        })
                    })
                };
                if let Some(v) = values.iter().rev().find(|v| held(v)) {
                    self.bindings.prefer(name, v);
                }
            }
        }
    }

    async fn exchange(
        &mut self,
        log: &[Exchange],
        index: usize,
        options: &Options,
        handle: &crate::Handle,
    ) -> Verdict {
        let Some(ex) = log.get(index) else {
            return Verdict::Skipped("no such exchange".to_string());
        };
        let Some(recorded_status) = ex.status else {
            return Verdict::Skipped("the log holds no answer to this request".to_string());
        };
        let names = self.listeners.keys().cloned().collect();
        let (api, path) = match route(&ex.method, &ex.url, &names) {
            Route::Skip(why) => return Verdict::Skipped(why),
            Route::Sim { api, path } => (api, path),
        };
        let rewritten = split_url(&ex.url).1 != path;
        let Some(base) = self.listeners.get(api).cloned() else {
            return Verdict::Skipped(format!("the simulator has no {api} listener"));
        };
        let (_, _, query) = split_url(&ex.url);
        let keep = self.bindings.preset_names();
        let found = aliases(
            &ex.url,
            log[index..].iter().map(|e| &e.response_body),
            &keep,
        );
        self.bindings.alias(&found);
        self.generations(&path, &found, ex, recorded_status, handle);
        let filled = self.bindings.fill(&path);
        let path = self.bindings.translate_ids(&filled);
        let mut target = path.clone();
        if let Some(q) = query {
            target.push('?');
            target.push_str(&self.bindings.fill_query(q));
        }
        let body = match &ex.request_body {
            Body::Empty => None,
            Body::Json(v) => {
                let mut v = self.bindings.fill_json(v);
                self.fingerprints(&path, &mut v);
                Some(v.to_string())
            }
            Body::Text(t) => Some(self.bindings.fill(t)),
        };
        self.bindings.clear_choices();
        let deadline = Instant::now() + options.poll_timeout;
        let answer = loop {
            let sent = tokio::time::timeout(
                options.request_timeout,
                send(&base, &ex.method, &target, &self.token, body.as_deref()),
            )
            .await;
            let answer = match sent {
                Ok(Ok(a)) => a,
                Ok(Err(e)) => return Verdict::Mismatch(format!("no answer: {e}")),
                Err(_) => {
                    return Verdict::Mismatch(format!(
                        "no answer within {}",
                        humantime::format_duration(options.request_timeout)
                    ));
                }
            };
            let again = ex.method == "GET"
                && answer.status == recorded_status
                && Instant::now() < deadline
                && match (&ex.response_body, &answer.body) {
                    (Body::Json(r), Body::Json(a)) => behind(r, a),
                    _ => false,
                };
            if !again {
                break answer;
            }
            tokio::time::sleep(options.delay).await;
        };
        if let (Body::Json(r), Body::Json(a)) = (&ex.response_body, &answer.body)
            && (200..300).contains(&answer.status)
        {
            self.bindings.bind(r, a);
            if ex.method == "GET" {
                self.last_seen.insert(path.clone(), a.clone());
            }
        }
        // A request KCC sent to a beta version (sqladmin v1beta4, container v1beta1) has its
        // answer compared without the fields v1 does not define: a v1 answer cannot have them.
        let recorded = match &ex.response_body {
            Body::Json(r) if rewritten && (200..300).contains(&recorded_status) => {
                match self.v1_schema(api, &ex.method, &path) {
                    Some((doc, schema)) => Body::Json(restrict(doc, schema, r)),
                    None => ex.response_body.clone(),
                }
            }
            other => other.clone(),
        };
        match judge(&recorded, recorded_status, &answer) {
            None => Verdict::Match,
            Some(what) => Verdict::Mismatch(what),
        }
    }
}

/// Replays one log's exchanges against a fresh simulator; `name` labels the outcomes.
pub async fn replay_exchanges(
    name: &str,
    exchanges: &[Exchange],
    options: &Options,
) -> Result<Vec<Outcome>, String> {
    let config = Config {
        schema_dir: options.schema_dir.clone(),
        delay: options.delay,
        seed: Some(1),
        ..Config::default()
    };
    let (urls, handle) = crate::serve(config).await?;
    let listeners = match urls.to_json() {
        Value::Object(o) => o
            .into_iter()
            .filter(|(k, _)| k != "token")
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut session = Session {
        listeners,
        discovery: Discovery::load_cached(&options.schema_dir)?,
        token: handle.issue_token("replay@example.com"),
        bindings: {
            let mut b = Bindings::new(&options.project, &options.unique_id);
            // Some requests name the project by number: the simulator's number of it.
            b.preset(
                "projectNumber",
                &crate::api::project_number(&options.project),
            );
            b
        },
        last_seen: BTreeMap::new(),
    };
    let mut outcomes = Vec::new();
    for (i, ex) in exchanges.iter().enumerate() {
        let verdict = session.exchange(exchanges, i, options, &handle).await;
        let (_, path, _) = split_url(&ex.url);
        outcomes.push(Outcome {
            file: name.to_string(),
            index: i + 1,
            method: ex.method.clone(),
            path: path.to_string(),
            verdict,
        });
    }
    handle.shutdown().await;
    Ok(outcomes)
}

/// Replays one log file.
pub async fn replay_file(path: &Path, options: &Options) -> Result<Vec<Outcome>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    replay_exchanges(&path.display().to_string(), &parse_log(&text), options).await
}

/// Replays each log file against its own fresh simulator.
pub async fn replay(files: &[PathBuf], options: &Options) -> Result<Report, String> {
    let mut report = Report::default();
    for f in files {
        report.outcomes.extend(replay_file(f, options).await?);
    }
    Ok(report)
}
