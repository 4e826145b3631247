//! `ss state list | show | rm | mv`: reading the state, and editing it without touching the
//! cloud.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use planner::addr::{ComponentAddr, NativeAddr};
use state::State;

use crate::cli::{StateListArgs, StateMvArgs, StateRmArgs, StateShowArgs};
use crate::render;
use crate::session::{Ctx, Stored};

pub async fn list(ctx: &Ctx, a: StateListArgs) -> anyhow::Result<ExitCode> {
    let stored = Stored::open(ctx, &a.dir, a.location.state.as_deref()).await?;
    let (_, state) = stored.read().await?;
    let records = state.map(|s| s.resources).unwrap_or_default();
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&render::state_list_json(&records))?
        );
    } else {
        out!("{}", render::state_list_text(&records));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the state address `address` is selected by the user's `pattern`.
fn matches(address: &str, pattern: &str) -> bool {
    address
        .parse::<NativeAddr>()
        .is_ok_and(|n| n.matches(pattern))
}

pub async fn show(ctx: &Ctx, a: StateShowArgs) -> anyhow::Result<ExitCode> {
    let stored = Stored::open(ctx, &a.dir, a.location.state.as_deref()).await?;
    let (_, state) = stored.read().await?;
    let state = state.unwrap_or_default();
    let matching: Vec<_> = state
        .resources
        .iter()
        .filter(|r| matches(&r.address, &a.address))
        .collect();
    if matching.is_empty() {
        bail!("no resource at `{}` in the state", a.address);
    }
    for r in matching {
        outln!("{}", render::state_show_text(r));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rm(ctx: &Ctx, a: StateRmArgs) -> anyhow::Result<ExitCode> {
    let stored = Stored::open(ctx, &a.dir, a.location.state.as_deref()).await?;
    let (backend, _guard, mut state) = stored.locked("state rm").await?;
    let mut removed = Vec::new();
    for pattern in &a.addresses {
        let before = state.resources.len();
        state.resources.retain(|r| {
            let hit = matches(&r.address, pattern);
            if hit {
                removed.push(r.address.clone());
            }
            !hit
        });
        if state.resources.len() == before {
            bail!("no resource at `{pattern}` in the state");
        }
    }
    state.prune_components(component_of);
    state.serial += 1;
    backend.write(&state).await?;
    for r in removed {
        outln!("Removed {r}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What `ss state mv SRC DST` moves: one native resource, or a whole component.
struct Move {
    /// The component of the source.
    src: ComponentAddr,
    /// The source when it names one native resource.
    exact_src: Option<NativeAddr>,
    dst: NativeAddr,
}

impl Move {
    fn parse(a: &StateMvArgs) -> anyhow::Result<Move> {
        let src: ComponentAddr = a
            .source
            .parse()
            .or_else(|_| a.source.parse::<NativeAddr>().map(|n| n.component))
            .map_err(|e| anyhow!("{e}"))?;
        let dst: NativeAddr = a.destination.parse().map_err(|e| anyhow!("{e}"))?;
        let exact_src: Option<NativeAddr> = a
            .source
            .parse()
            .ok()
            .filter(|n: &NativeAddr| n.native.is_some());
        let m = Move {
            src,
            exact_src,
            dst,
        };
        // Like Terraform, a move never changes what a resource is: only where it is.
        if !m.same_kind() {
            bail!(
                "cannot move `{}` to `{}`: a resource can only move to an address of the same type",
                a.source,
                a.destination
            );
        }
        Ok(m)
    }

    fn same_kind(&self) -> bool {
        let dst = &self.dst;
        match &self.exact_src {
            Some(exact) => {
                exact.component.type_name == dst.component.type_name
                    && exact.native.as_ref().map(|(t, _)| t) == dst.native.as_ref().map(|(t, _)| t)
            }
            None => self.src.type_name == dst.component.type_name && dst.native.is_none(),
        }
    }

    /// Where the resource at `addr` goes, or `None` when the move does not concern it.
    fn target(&self, addr: &NativeAddr) -> Option<NativeAddr> {
        match &self.exact_src {
            Some(exact) if exact == addr => Some(self.dst.clone()),
            Some(_) => None,
            None if addr.component == self.src => Some(NativeAddr {
                component: self.dst.component.clone(),
                native: addr.native.clone(),
            }),
            None => None,
        }
    }

    /// Moves the resources (and, for a whole component, its applied configuration) in
    /// `state`; returns how many resources moved.
    fn apply(&self, state: &mut State) -> anyhow::Result<usize> {
        let mut moved = 0;
        let existing: BTreeSet<String> =
            state.resources.iter().map(|r| r.address.clone()).collect();
        for r in &mut state.resources {
            let Ok(addr) = r.address.parse::<NativeAddr>() else {
                continue;
            };
            let Some(new) = self.target(&addr) else {
                continue;
            };
            if existing.contains(&new.to_string()) {
                bail!("`{new}` already exists in the state");
            }
            r.address = new.to_string();
            moved += 1;
        }
        if moved == 0 {
            return Ok(0);
        }
        state.resources.sort_by(|a, b| a.address.cmp(&b.address));
        // A whole component moved: its applied configuration moves with it.
        if self.exact_src.is_none()
            && let Some(mut record) = state.component(&self.src.to_string()).cloned()
        {
            record.address = self.dst.component.to_string();
            state
                .components
                .retain(|c| c.address != self.src.to_string());
            state.upsert_component(record);
        }
        Ok(moved)
    }
}

pub async fn mv(ctx: &Ctx, a: StateMvArgs) -> anyhow::Result<ExitCode> {
    let stored = Stored::open(ctx, &a.dir, a.location.state.as_deref()).await?;
    let (backend, _guard, mut state) = stored.locked("state mv").await?;
    let moved = Move::parse(&a)?.apply(&mut state)?;
    if moved == 0 {
        bail!("no resource at `{}` in the state", a.source);
    }
    state.prune_components(component_of);
    state.serial += 1;
    backend.write(&state).await?;
    outln!(
        "Moved {} resource(s) from {} to {}",
        moved,
        a.source,
        a.destination
    );
    Ok(ExitCode::SUCCESS)
}

/// The component instance address of a native address in the state.
fn component_of(address: &str) -> Option<String> {
    address
        .parse::<NativeAddr>()
        .ok()
        .map(|n| n.component.to_string())
}
