//! The component graph: one node per provider, local, resource block and output, built by a
//! short list of passes, each a function below with its own checks:
//!
//! 1. [`assign_providers`]: which provider serves each resource block.
//! 2. [`reference_edges`]: an edge for every reference in an expression (undefined references
//!    are reported here, with suggestions).
//! 3. [`depends_on_edges`]: explicit `depends_on`.
//! 4. [`check_cycles`]: every cycle reported with all of its members.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use provider_api::component;

use crate::dag::Dag;
use crate::spec::suggest::did_you_mean;
use crate::spec::{
    BlockBody, Config, Diagnostics, Expr, Reference, ResourceBlock, Span, SpecDiagnostic,
};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Provider(String),
    Local(String),
    /// A resource block by (type, name).
    Block(String, String),
    Output(String),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Provider(n) => write!(f, "provider.{n}"),
            Node::Local(n) => write!(f, "local.{n}"),
            Node::Block(t, n) => write!(f, "{t}.{n}"),
            Node::Output(n) => write!(f, "output.{n}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ComponentGraph {
    pub dag: Dag<Node>,
    /// Evaluation order: dependencies first.
    pub order: Vec<Node>,
    /// The provider serving each resource block, by (type, name).
    pub block_provider: BTreeMap<(String, String), String>,
    /// Providers needed, with or without a `provider` block.
    pub providers: BTreeSet<String>,
    /// Errors that did not stop the graph from being built (undefined references, unknown
    /// providers): the edges concerned are missing, so evaluation reports more problems at
    /// once; the walk reports these first.
    pub errors: Diagnostics,
}

impl ComponentGraph {
    /// The resource blocks a block depends on, looking through locals and providers (but not
    /// through other blocks): all their native resources must exist before this block's.
    pub fn block_dependencies(&self, node: &Node) -> BTreeSet<(String, String)> {
        self.dag
            .frontier(node, |n| !matches!(n, Node::Block(..)))
            .into_iter()
            .filter_map(|n| match n {
                Node::Block(t, name) => Some((t.clone(), name.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Every expression of a body, nested blocks included.
pub fn body_exprs(body: &BlockBody) -> Vec<&Expr> {
    let mut out: Vec<&Expr> = body.attributes.iter().map(|a| &a.expr).collect();
    for b in &body.blocks {
        out.extend(body_exprs(&b.body));
    }
    out
}

fn block_exprs(block: &ResourceBlock) -> Vec<&Expr> {
    let mut out = body_exprs(&block.body);
    out.extend(block.count.iter());
    out.extend(block.for_each.iter());
    out
}

/// The provider a native type belongs to, by its prefix (`sandbox_object` → `sandbox`).
pub fn provider_of_native_type<'a>(type_name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .find(|p| {
            type_name
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('_'))
        })
        .map(String::as_str)
}

/// Builds the graph and checks it; `known_providers` are the names the binary can configure.
/// Only a cycle stops it (there is no evaluation order then); other errors are carried in
/// [`ComponentGraph::errors`].
pub fn build(config: &Config, known_providers: &[String]) -> Result<ComponentGraph, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut dag = Dag::default();
    for p in &config.providers {
        dag.add_node(Node::Provider(p.name.clone()));
    }
    for l in &config.locals {
        dag.add_node(Node::Local(l.name.clone()));
    }
    for b in &config.resources {
        dag.add_node(Node::Block(b.type_name.clone(), b.name.clone()));
    }
    for o in &config.outputs {
        dag.add_node(Node::Output(o.name.clone()));
    }
    let (block_provider, providers) = assign_providers(config, known_providers, &mut diags);
    for ((t, n), p) in &block_provider {
        dag.add_edge(Node::Block(t.clone(), n.clone()), Node::Provider(p.clone()));
    }
    reference_edges(config, &mut dag, &mut diags);
    depends_on_edges(config, &mut dag, &mut diags);
    if let Err(cycles) = check_cycles(config, &dag) {
        diags.extend(cycles);
        return Err(diags);
    }
    let order = dag.topo_order().unwrap_or_default();
    Ok(ComponentGraph {
        dag,
        order,
        block_provider,
        providers,
        errors: diags,
    })
}

/// Pass 1: decides the provider of every resource block.
pub fn assign_providers(
    config: &Config,
    known: &[String],
    diags: &mut Diagnostics,
) -> (BTreeMap<(String, String), String>, BTreeSet<String>) {
    let mut configured = BTreeSet::new();
    for p in &config.providers {
        if known.contains(&p.name) {
            configured.insert(p.name.clone());
        } else {
            diags.push(SpecDiagnostic::error(
                format!(
                    "unknown provider `{}`{}; ss knows: {}",
                    p.name,
                    did_you_mean(&p.name, known.iter().map(String::as_str)),
                    known.join(", ")
                ),
                Some(p.span),
            ));
        }
    }
    let mut needed = configured.clone();
    let mut out = BTreeMap::new();
    for b in &config.resources {
        let chosen = if let Some((name, span)) = &b.provider {
            if configured.contains(name) {
                Some(name.clone())
            } else {
                let d = if known.contains(name) {
                    SpecDiagnostic::error(
                        format!(
                            "provider `{name}` is not configured: add a `provider \"{name}\" {{ … }}` block"
                        ),
                        Some(*span),
                    )
                } else {
                    SpecDiagnostic::error(
                        format!(
                            "unknown provider `{name}`{}",
                            did_you_mean(name, configured.iter().map(String::as_str))
                        ),
                        Some(*span),
                    )
                };
                diags.push(d);
                None
            }
        } else if component::is_component(&b.type_name) {
            match configured.len() {
                1 => configured.iter().next().cloned(),
                0 => {
                    diags.push(
                        SpecDiagnostic::error(
                            format!(
                                "no provider is configured for {}.{}",
                                b.type_name, b.name
                            ),
                            Some(b.span),
                        )
                        .with_detail(
                            "add a provider block, e.g. `provider \"sandbox\" {}` for the built-in simulated cloud",
                        ),
                    );
                    None
                }
                _ => {
                    diags.push(SpecDiagnostic::error(
                        format!(
                            "several providers are configured ({}): set `provider = NAME` in {}.{}",
                            configured.iter().cloned().collect::<Vec<_>>().join(", "),
                            b.type_name,
                            b.name
                        ),
                        Some(b.span),
                    ));
                    None
                }
            }
        } else if let Some(p) = provider_of_native_type(&b.type_name, known) {
            Some(p.to_string())
        } else {
            let mut candidates: Vec<&str> = component::ALL.to_vec();
            candidates.push("sandbox_object");
            diags.push(
                SpecDiagnostic::error(
                    format!(
                        "unknown resource type `{}`{}",
                        b.type_name,
                        did_you_mean(&b.type_name, candidates)
                    ),
                    Some(b.span),
                )
                .with_detail(
                    "use a portable component (network, kubernetes_cluster, postgres, redis_cluster, load_balancer, cdn) or a provider's native type",
                ),
            );
            None
        };
        if let Some(p) = chosen {
            needed.insert(p.clone());
            out.insert((b.type_name.clone(), b.name.clone()), p);
        }
    }
    (out, needed)
}

/// What the spec declares, indexed once so that resolving a reference is a lookup.
pub struct Names<'a> {
    config: &'a Config,
    variables: BTreeSet<&'a str>,
    locals: BTreeSet<&'a str>,
    resources: BTreeSet<(&'a str, &'a str)>,
}

impl<'a> Names<'a> {
    pub fn new(config: &'a Config) -> Self {
        Names {
            config,
            variables: config.variables.iter().map(|v| v.name.as_str()).collect(),
            locals: config.locals.iter().map(|l| l.name.as_str()).collect(),
            resources: config
                .resources
                .iter()
                .map(|b| (b.type_name.as_str(), b.name.as_str()))
                .collect(),
        }
    }
}

fn resolve_reference(
    names: &Names<'_>,
    reference: &Reference,
    span: Span,
    in_block: Option<&ResourceBlock>,
) -> Result<Option<Node>, SpecDiagnostic> {
    let config = names.config;
    match reference {
        Reference::Var(name) => {
            if names.variables.contains(name.as_str()) {
                Ok(None)
            } else {
                Err(SpecDiagnostic::error(
                    format!(
                        "reference to undeclared variable `var.{name}`{}",
                        did_you_mean(name, config.variables.iter().map(|v| v.name.as_str()))
                    ),
                    Some(span),
                ))
            }
        }
        Reference::Local(name) => {
            if names.locals.contains(name.as_str()) {
                Ok(Some(Node::Local(name.clone())))
            } else {
                Err(SpecDiagnostic::error(
                    format!(
                        "reference to undeclared local value `local.{name}`{}",
                        did_you_mean(name, config.locals.iter().map(|l| l.name.as_str()))
                    ),
                    Some(span),
                ))
            }
        }
        Reference::Resource { type_name, name } => {
            if names
                .resources
                .contains(&(type_name.as_str(), name.as_str()))
            {
                Ok(Some(Node::Block(type_name.clone(), name.clone())))
            } else {
                let all: Vec<String> = config
                    .resources
                    .iter()
                    .map(|b| format!("{}.{}", b.type_name, b.name))
                    .collect();
                let wanted = format!("{type_name}.{name}");
                Err(SpecDiagnostic::error(
                    format!(
                        "reference to undeclared resource `{wanted}`{}",
                        did_you_mean(&wanted, all.iter().map(String::as_str))
                    ),
                    Some(span),
                ))
            }
        }
        Reference::CountIndex => match in_block {
            Some(b) if b.count.is_some() => Ok(None),
            _ => Err(SpecDiagnostic::error(
                "`count.index` is only available in a resource that sets `count`",
                Some(span),
            )),
        },
        Reference::EachKey | Reference::EachValue => match in_block {
            Some(b) if b.for_each.is_some() => Ok(None),
            _ => Err(SpecDiagnostic::error(
                "`each.key` and `each.value` are only available in a resource that sets `for_each`",
                Some(span),
            )),
        },
        Reference::Workspace | Reference::PathModule => Ok(None),
    }
}

/// Pass 2: an edge for every reference; undefined references are errors.
pub fn reference_edges(config: &Config, dag: &mut Dag<Node>, diags: &mut Diagnostics) {
    let names = Names::new(config);
    let mut add = |node: Node, exprs: Vec<&Expr>, block: Option<&ResourceBlock>| {
        for e in exprs {
            for (r, span) in e.references() {
                match resolve_reference(&names, &r, span, block) {
                    Ok(Some(target)) => dag.add_edge(node.clone(), target),
                    Ok(None) => {}
                    Err(d) => diags.push(d),
                }
            }
        }
    };
    for p in &config.providers {
        add(Node::Provider(p.name.clone()), body_exprs(&p.body), None);
    }
    for l in &config.locals {
        add(Node::Local(l.name.clone()), vec![&l.expr], None);
    }
    for b in &config.resources {
        add(
            Node::Block(b.type_name.clone(), b.name.clone()),
            block_exprs(b),
            Some(b),
        );
    }
    for o in &config.outputs {
        add(Node::Output(o.name.clone()), vec![&o.value], None);
    }
}

/// Pass 3: explicit `depends_on`.
pub fn depends_on_edges(config: &Config, dag: &mut Dag<Node>, diags: &mut Diagnostics) {
    let names = Names::new(config);
    for b in &config.resources {
        for (r, span) in &b.depends_on {
            match resolve_reference(&names, r, *span, Some(b)) {
                Ok(Some(target)) => {
                    dag.add_edge(Node::Block(b.type_name.clone(), b.name.clone()), target)
                }
                Ok(None) => diags.push(SpecDiagnostic::error(
                    "`depends_on` accepts only resource references (TYPE.NAME)",
                    Some(*span),
                )),
                Err(d) => diags.push(d),
            }
        }
    }
}

fn node_span(config: &Config, node: &Node) -> Option<Span> {
    match node {
        Node::Provider(n) => config
            .providers
            .iter()
            .find(|p| &p.name == n)
            .map(|p| p.span),
        Node::Local(n) => config.locals.iter().find(|l| &l.name == n).map(|l| l.span),
        Node::Block(t, n) => config
            .resources
            .iter()
            .find(|b| &b.type_name == t && &b.name == n)
            .map(|b| b.span),
        Node::Output(n) => config.outputs.iter().find(|o| &o.name == n).map(|o| o.span),
    }
}

/// Pass 4: a cycle is an error naming every member, each labelled at its definition.
pub fn check_cycles(config: &Config, dag: &Dag<Node>) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::default();
    for cycle in dag.cycles() {
        let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        let first = cycle.first().and_then(|n| node_span(config, n));
        let mut d = SpecDiagnostic::error(
            format!("dependency cycle between {}", names.join(", ")),
            first,
        )
        .with_detail("each of these refers, directly or through the others, to itself");
        for n in &cycle {
            if let Some(span) = node_span(config, n) {
                d = d.with_label(span, format!("{n} is part of the cycle"));
            }
        }
        diags.push(d);
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::suggest::closest;

    #[test]
    fn suggestions_are_close_matches_only() {
        assert_eq!(closest("netwrk", ["network", "postgres"]), Some("network"));
        assert_eq!(closest("zzz", ["network", "postgres"]), None);
        assert_eq!(
            provider_of_native_type("sandbox_object", &["sandbox".to_string()]),
            Some("sandbox")
        );
        assert_eq!(
            provider_of_native_type("sandboxy_x", &["sandbox".to_string()]),
            None
        );
    }
}
