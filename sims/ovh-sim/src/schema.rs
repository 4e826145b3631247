//! The OVH API description files, compiled into a route table and a model map.
//!
//! The files are OVH's own `/v1/<section>.json` documents (Swagger-1.2-like): `apis[]` with a
//! `path` template and `operations[]`, and `models{}` with `properties{}` or `enum[]`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
pub use sim_kit::text::{percent_decode, split_path};

/// The files loaded from the schema directory.
pub const SCHEMA_FILES: [&str; 3] = ["cloud.v1.json", "cdn-dedicated.v1.json", "auth.v1.json"];

/// The compiled API description.
#[derive(Debug, Default)]
pub struct Schema {
    pub routes: Vec<Route>,
    pub models: HashMap<String, Model>,
}

/// One path template and its operations.
#[derive(Debug)]
pub struct Route {
    pub template: String,
    pub segments: Vec<Segment>,
    pub operations: Vec<Operation>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug)]
pub struct Operation {
    pub method: String,
    pub api_status: String,
    pub params: Vec<Param>,
    pub response_type: String,
    pub no_authentication: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Path,
    Query,
    Body,
    Header,
}

#[derive(Debug)]
pub struct Param {
    /// `None` for a body parameter that is the whole body.
    pub name: Option<String>,
    pub kind: ParamKind,
    pub data_type: String,
    pub required: bool,
}

#[derive(Debug, Default)]
pub struct Model {
    /// `Some` for an enum model.
    pub enum_values: Option<Vec<Value>>,
    pub properties: BTreeMap<String, Property>,
    /// Type parameters (`T`) of a generic model such as `complexType.UnitAndValue<long>`.
    pub generics: Vec<String>,
}

#[derive(Debug)]
pub struct Property {
    pub type_name: String,
    pub read_only: bool,
    pub required: bool,
    pub can_be_null: bool,
}

/// A matched request: the route, its operation, and the path parameters.
pub struct Matched<'a> {
    pub route: &'a Route,
    pub operation: &'a Operation,
    pub path_params: BTreeMap<String, String>,
}

/// Why a path and method did not match.
#[derive(Debug, PartialEq, Eq)]
pub enum MatchError {
    UnknownPath,
    MethodNotAllowed(Vec<String>),
}

impl Schema {
    /// Loads and compiles the schema files of `dir`; cached per directory for the process.
    pub fn load_cached(dir: &Path) -> Result<Arc<Schema>, String> {
        sim_kit::schema::load_cached(dir, Schema::load)
    }

    /// Loads and compiles the schema files of `dir`.
    pub fn load(dir: &Path) -> Result<Schema, String> {
        let docs =
            sim_kit::schema::read_documents(dir, "OVH API description files", &SCHEMA_FILES)?;
        let mut schema = Schema::default();
        for doc in &docs {
            schema.add_document(doc);
        }
        Ok(schema)
    }

    fn add_document(&mut self, doc: &Value) {
        for api in doc["apis"].as_array().into_iter().flatten() {
            let Some(template) = api["path"].as_str() else {
                continue;
            };
            let segments = split_path(template)
                .into_iter()
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') && s.len() > 2 {
                        Segment::Param(s[1..s.len() - 1].to_string())
                    } else {
                        Segment::Literal(s)
                    }
                })
                .collect();
            let operations = api["operations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|op| Operation {
                    method: op["httpMethod"].as_str().unwrap_or_default().to_uppercase(),
                    api_status: op["apiStatus"]["value"]
                        .as_str()
                        .unwrap_or("PRODUCTION")
                        .to_string(),
                    response_type: op["responseType"].as_str().unwrap_or("void").to_string(),
                    no_authentication: op["noAuthentication"].as_bool().unwrap_or(false),
                    params: op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| Param {
                            name: p["name"].as_str().map(str::to_string),
                            kind: match p["paramType"].as_str() {
                                Some("path") => ParamKind::Path,
                                Some("query") => ParamKind::Query,
                                Some("header") => ParamKind::Header,
                                _ => ParamKind::Body,
                            },
                            data_type: p["dataType"].as_str().unwrap_or("string").to_string(),
                            required: p["required"].as_bool().unwrap_or(false),
                        })
                        .collect(),
                })
                .collect();
            self.routes.push(Route {
                template: template.to_string(),
                segments,
                operations,
            });
        }
        if let Some(models) = doc["models"].as_object() {
            for (name, m) in models {
                let model = Model {
                    enum_values: m["enum"].as_array().cloned(),
                    generics: m["generics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|g| g.as_str().map(str::to_string))
                        .collect(),
                    properties: m["properties"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, p)| {
                            (
                                k.clone(),
                                Property {
                                    type_name: p["type"].as_str().unwrap_or("string").to_string(),
                                    read_only: p["readOnly"].as_bool().unwrap_or(false),
                                    required: p["required"].as_bool().unwrap_or(false),
                                    can_be_null: p["canBeNull"].as_bool().unwrap_or(false),
                                },
                            )
                        })
                        .collect(),
                };
                self.models.insert(name.clone(), model);
            }
        }
    }

    /// Finds the route and operation for `method` and a decoded API path (without `/v1`).
    /// When several templates match, the one with literal segments earliest wins
    /// (`/kube/{kubeId}/reset` over a deeper parameter).
    pub fn find(&self, method: &str, path: &str) -> Result<Matched<'_>, MatchError> {
        let segs = split_path(path);
        let mut best: Option<(Vec<bool>, &Route, BTreeMap<String, String>)> = None;
        for route in &self.routes {
            if route.segments.len() != segs.len() {
                continue;
            }
            let mut params = BTreeMap::new();
            let mut score = Vec::with_capacity(segs.len());
            let mut ok = true;
            for (seg, actual) in route.segments.iter().zip(&segs) {
                match seg {
                    Segment::Literal(l) => {
                        if l != actual {
                            ok = false;
                            break;
                        }
                        score.push(true);
                    }
                    Segment::Param(name) => {
                        if actual.is_empty() {
                            ok = false;
                            break;
                        }
                        params.insert(name.clone(), actual.clone());
                        score.push(false);
                    }
                }
            }
            if ok && best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, route, params));
            }
        }
        let Some((_, route, path_params)) = best else {
            return Err(MatchError::UnknownPath);
        };
        match route.operations.iter().find(|o| o.method == method) {
            Some(operation) => Ok(Matched {
                route,
                operation,
                path_params,
            }),
            None => Err(MatchError::MethodNotAllowed(
                route.operations.iter().map(|o| o.method.clone()).collect(),
            )),
        }
    }
}
