//! The Google API Discovery documents, compiled into per-API method tables.
//!
//! Each document has `rootUrl`, `servicePath`, `schemas{}` and a tree of `resources` whose
//! `methods` carry `httpMethod`, `path` / `flatPath` (relative to rootUrl + servicePath),
//! `parameters` and `request` / `response` `$ref`s. A request path is matched against the
//! `flatPath` templates (every `{+name}` expansion of `path` is spelled out segment by
//! segment there); `path` is used only when a method has no `flatPath`, with `{+x}` matching
//! one or more segments.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
pub use sim_kit::text::percent_decode;

/// The APIs the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    Sqladmin,
    Redis,
    Container,
    Compute,
    /// Private services access (the VPC peering Cloud SQL private IP needs).
    Servicenetworking,
    /// Service connection policies (the PSC set-up Memorystore clusters need).
    Networkconnectivity,
}

impl Api {
    pub const ALL: [Api; 6] = [
        Api::Sqladmin,
        Api::Redis,
        Api::Container,
        Api::Compute,
        Api::Servicenetworking,
        Api::Networkconnectivity,
    ];

    /// The short name used in URLs maps, keys and the request log.
    pub fn name(self) -> &'static str {
        match self {
            Api::Sqladmin => "sqladmin",
            Api::Redis => "redis",
            Api::Container => "container",
            Api::Compute => "compute",
            Api::Servicenetworking => "servicenetworking",
            Api::Networkconnectivity => "networkconnectivity",
        }
    }

    /// The discovery document's file name.
    pub fn file(self) -> &'static str {
        match self {
            Api::Sqladmin => "sqladmin.v1.json",
            Api::Redis => "redis.v1.json",
            Api::Container => "container.v1.json",
            Api::Compute => "compute.v1.json",
            Api::Servicenetworking => "servicenetworking.v1.json",
            Api::Networkconnectivity => "networkconnectivity.v1.json",
        }
    }
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Lit(String),
    /// `{name}` with optional literal text around it (`{clustersId}:backup`).
    Param {
        prefix: String,
        name: String,
        suffix: String,
    },
    /// `{+name}`: one or more whole segments.
    Rest(String),
}

/// A query or path parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub location: String,
    pub ty: String,
    pub format: Option<String>,
    pub enum_values: Option<Vec<String>>,
    pub repeated: bool,
    pub required: bool,
}

/// One discovery method.
#[derive(Debug, Clone)]
pub struct Method {
    /// Dotted resource path and method name, e.g. `projects.locations.clusters.create`.
    pub name: String,
    /// The discovery `id`, e.g. `container.projects.locations.clusters.create`.
    pub id: String,
    pub http_method: String,
    /// The template matched (`flatPath`, or `path` when there is none).
    pub template: String,
    pub segments: Vec<Seg>,
    pub params: BTreeMap<String, Param>,
    pub request: Option<String>,
    pub response: Option<String>,
}

impl Method {
    /// Whether the method declares a `requestId` query parameter.
    pub fn has_request_id(&self) -> bool {
        self.params
            .get("requestId")
            .is_some_and(|p| p.location == "query")
    }

    /// The last part of the name (`insert`, `create`, `get`, …).
    pub fn verb(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or_default()
    }
}

/// One compiled discovery document.
#[derive(Debug)]
pub struct Doc {
    pub api: Api,
    pub root_url: String,
    pub service_path: String,
    pub methods: Vec<Method>,
    pub schemas: serde_json::Map<String, Value>,
    /// Parameters every method accepts (`alt`, `fields`, `prettyPrint`, …).
    pub global_params: BTreeMap<String, Param>,
}

/// Every API's document.
#[derive(Debug)]
pub struct Discovery {
    pub docs: BTreeMap<Api, Doc>,
}

/// The best match so far: its score, the methods with that template, the parameters.
type Best<'a> = (Vec<u8>, Vec<&'a Method>, BTreeMap<String, String>);

/// A matched request.
#[derive(Debug)]
pub struct Matched<'a> {
    pub method: &'a Method,
    pub params: BTreeMap<String, String>,
}

/// Why a request did not match.
#[derive(Debug, PartialEq, Eq)]
pub enum MatchError {
    /// No template of the API has this path (the message says why).
    UnknownPath(String),
    /// Some template has this path, but not with this HTTP method.
    MethodNotAllowed(Vec<String>),
}

fn parse_param(p: &Value) -> Param {
    Param {
        location: p["location"].as_str().unwrap_or("query").to_string(),
        ty: p["type"].as_str().unwrap_or("string").to_string(),
        format: p["format"].as_str().map(str::to_string),
        enum_values: p["enum"].as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        }),
        repeated: p["repeated"].as_bool().unwrap_or(false),
        required: p["required"].as_bool().unwrap_or(false),
    }
}

/// Compiles a path template into segments.
pub fn compile_template(template: &str) -> Vec<Seg> {
    template
        .split('/')
        .map(|s| {
            if let Some(open) = s.find('{')
                && let Some(close) = s[open..].find('}').map(|c| c + open)
            {
                let inner = &s[open + 1..close];
                if let Some(rest) = inner.strip_prefix('+') {
                    return Seg::Rest(rest.to_string());
                }
                return Seg::Param {
                    prefix: s[..open].to_string(),
                    name: inner.to_string(),
                    suffix: s[close + 1..].to_string(),
                };
            }
            Seg::Lit(s.to_string())
        })
        .collect()
}

impl Doc {
    /// Compiles one discovery document.
    pub fn from_json(api: Api, doc: &Value) -> Doc {
        let mut methods = Vec::new();
        collect_methods(doc, "", &mut methods);
        Doc {
            api,
            root_url: doc["rootUrl"].as_str().unwrap_or_default().to_string(),
            service_path: doc["servicePath"].as_str().unwrap_or_default().to_string(),
            methods,
            schemas: doc["schemas"].as_object().cloned().unwrap_or_default(),
            global_params: doc["parameters"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), parse_param(v)))
                .collect(),
        }
    }

    /// Finds the method for an HTTP method and a request path (as sent, starting with `/`,
    /// including the service path). When several templates match, the one with literal
    /// segments earliest wins.
    pub fn find(&self, http_method: &str, path: &str) -> Result<Matched<'_>, MatchError> {
        let rel = path.trim_start_matches('/');
        let Some(rel) = rel.strip_prefix(self.service_path.as_str()) else {
            return Err(MatchError::UnknownPath(format!(
                "the {} API lives under /{}",
                self.api.name(),
                self.service_path
            )));
        };
        let segs: Vec<String> = rel.split('/').map(percent_decode).collect();
        let mut best: Option<Best<'_>> = None;
        for m in &self.methods {
            let mut params = BTreeMap::new();
            let mut score = Vec::new();
            if !match_segments(&m.segments, &segs, &mut params, &mut score) {
                continue;
            }
            match &mut best {
                Some((s, ms, _)) if *s == score => ms.push(m),
                Some((s, _, _)) if *s > score => {}
                _ => best = Some((score, vec![m], params)),
            }
        }
        let Some((_, candidates, params)) = best else {
            return Err(MatchError::UnknownPath(format!(
                "no method of the {} API has this path",
                self.api.name()
            )));
        };
        match candidates.iter().find(|m| m.http_method == http_method) {
            Some(method) => Ok(Matched { method, params }),
            None => Err(MatchError::MethodNotAllowed(
                candidates.iter().map(|m| m.http_method.clone()).collect(),
            )),
        }
    }

    /// The named schema.
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }
}

fn match_segments(
    tpl: &[Seg],
    segs: &[String],
    params: &mut BTreeMap<String, String>,
    score: &mut Vec<u8>,
) -> bool {
    let Some((first, rest_tpl)) = tpl.split_first() else {
        return segs.is_empty();
    };
    match first {
        Seg::Rest(name) => {
            // One or more segments, then the rest of the template (longest first).
            for n in (1..=segs.len()).rev() {
                let mut p = params.clone();
                let mut s = score.clone();
                s.extend(std::iter::repeat_n(0, n));
                if match_segments(rest_tpl, &segs[n..], &mut p, &mut s) {
                    p.insert(name.clone(), segs[..n].join("/"));
                    *params = p;
                    *score = s;
                    return true;
                }
            }
            false
        }
        _ => {
            let Some((seg, rest)) = segs.split_first() else {
                return false;
            };
            match first {
                Seg::Lit(l) => {
                    if l != seg {
                        return false;
                    }
                    score.push(2);
                }
                Seg::Param {
                    prefix,
                    name,
                    suffix,
                } => {
                    let Some(mid) = seg
                        .strip_prefix(prefix.as_str())
                        .and_then(|s| s.strip_suffix(suffix.as_str()))
                    else {
                        return false;
                    };
                    if mid.is_empty() {
                        return false;
                    }
                    params.insert(name.clone(), mid.to_string());
                    score.push(if prefix.is_empty() && suffix.is_empty() {
                        0
                    } else {
                        1
                    });
                }
                Seg::Rest(_) => return false,
            }
            match_segments(rest_tpl, rest, params, score)
        }
    }
}

fn collect_methods(node: &Value, prefix: &str, out: &mut Vec<Method>) {
    let Some(resources) = node["resources"].as_object() else {
        return;
    };
    for (rname, res) in resources {
        let dotted = if prefix.is_empty() {
            rname.clone()
        } else {
            format!("{prefix}.{rname}")
        };
        for (mname, m) in res["methods"].as_object().into_iter().flatten() {
            let template = m["flatPath"]
                .as_str()
                .or_else(|| m["path"].as_str())
                .unwrap_or_default()
                .to_string();
            out.push(Method {
                name: format!("{dotted}.{mname}"),
                id: m["id"].as_str().unwrap_or_default().to_string(),
                http_method: m["httpMethod"].as_str().unwrap_or("GET").to_string(),
                segments: compile_template(&template),
                template,
                params: m["parameters"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), parse_param(v)))
                    .collect(),
                request: m["request"]["$ref"].as_str().map(str::to_string),
                response: m["response"]["$ref"].as_str().map(str::to_string),
            });
        }
        collect_methods(res, &dotted, out);
    }
}

impl Discovery {
    /// Loads the documents of `dir`; cached per directory for the process.
    pub fn load_cached(dir: &Path) -> Result<Arc<Discovery>, String> {
        sim_kit::schema::load_cached(dir, Discovery::load)
    }

    /// Loads the documents of `dir` (one per [`Api`]).
    pub fn load(dir: &Path) -> Result<Discovery, String> {
        let files: Vec<&str> = Api::ALL.iter().map(|a| a.file()).collect();
        let read = sim_kit::schema::read_documents(dir, "the GCP discovery documents", &files)?;
        let docs = Api::ALL
            .into_iter()
            .zip(&read)
            .map(|(api, doc)| (api, Doc::from_json(api, doc)))
            .collect();
        Ok(Discovery { docs })
    }

    pub fn doc(&self, api: Api) -> Result<&Doc, String> {
        self.docs
            .get(&api)
            .ok_or_else(|| format!("no discovery document for {}", api.name()))
    }
}
