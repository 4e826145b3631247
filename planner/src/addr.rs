//! Resource addresses, parsed once into immutable values whose `Display` is what users write.
//!
//! - A component address names one instance of a resource block: `postgres.meta`,
//!   `sandbox_object.item[3]`, `network.zone["eu"]`.
//! - A native address names one native resource inside it: `postgres.meta.sandbox_pg_replica.r0`.
//!   For a block of a native type the native address equals the component address.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    Int(i64),
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{s:?}]"),
        }
    }
}

/// One instance of a resource block.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentAddr {
    pub type_name: String,
    pub name: String,
    pub key: Option<InstanceKey>,
}

impl ComponentAddr {
    pub fn new(type_name: &str, name: &str, key: Option<InstanceKey>) -> Self {
        ComponentAddr {
            type_name: type_name.to_string(),
            name: name.to_string(),
            key,
        }
    }

    /// The block this instance belongs to, without the instance key (`type.name`).
    pub fn block(&self) -> String {
        format!("{}.{}", self.type_name, self.name)
    }
}

impl fmt::Display for ComponentAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.type_name, self.name)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// One native resource: a component instance plus, for decomposed components, the native
/// type and local name inside it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NativeAddr {
    pub component: ComponentAddr,
    pub native: Option<(String, String)>,
}

impl NativeAddr {
    /// The address of native resource `local_name` (of `type_name`) inside `component`; the
    /// empty local name is the component itself.
    pub fn new(component: &ComponentAddr, type_name: &str, local_name: &str) -> Self {
        NativeAddr {
            component: component.clone(),
            native: (!local_name.is_empty())
                .then(|| (type_name.to_string(), local_name.to_string())),
        }
    }

    /// The local name inside the expansion ("" for a native block).
    pub fn local_name(&self) -> &str {
        self.native.as_ref().map(|(_, n)| n.as_str()).unwrap_or("")
    }

    /// True when `pattern` (as given to `--target` / `--exclude` / `state` commands) selects
    /// this address: the exact address, its component instance, or its whole block.
    pub fn matches(&self, pattern: &str) -> bool {
        pattern == self.to_string()
            || pattern == self.component.to_string()
            || pattern == self.component.block()
    }
}

impl fmt::Display for NativeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.component)?;
        if let Some((t, n)) = &self.native {
            write!(f, ".{t}.{n}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid address {input:?}: {reason}")]
pub struct AddrError {
    pub input: String,
    pub reason: String,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Splits `name[key]` into the name and the key.
fn split_key(segment: &str, input: &str) -> Result<(String, Option<InstanceKey>), AddrError> {
    let err = |reason: &str| AddrError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let Some(open) = segment.find('[') else {
        return Ok((segment.to_string(), None));
    };
    let name = &segment[..open];
    let rest = &segment[open + 1..];
    let inner = rest
        .strip_suffix(']')
        .ok_or_else(|| err("unclosed '[' in instance key"))?;
    let key = if let Some(s) = inner.strip_prefix('"') {
        InstanceKey::Str(
            s.strip_suffix('"')
                .ok_or_else(|| err("unclosed string key"))?
                .to_string(),
        )
    } else {
        InstanceKey::Int(
            inner
                .parse()
                .map_err(|_| err("instance key must be a number or a quoted string"))?,
        )
    };
    Ok((name.to_string(), Some(key)))
}

/// Splits on '.' outside brackets and quotes.
fn segments(input: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0, false, 0);
    for (i, c) in input.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            '.' if !quoted && depth == 0 => {
                out.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&input[start..]);
    out
}

impl FromStr for ComponentAddr {
    type Err = AddrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let segs = segments(input);
        if segs.len() != 2 {
            return Err(AddrError {
                input: input.to_string(),
                reason: "expected TYPE.NAME or TYPE.NAME[KEY]".into(),
            });
        }
        let (name, key) = split_key(segs[1], input)?;
        if !is_ident(segs[0]) || !is_ident(&name) {
            return Err(AddrError {
                input: input.to_string(),
                reason: "type and name must be identifiers".into(),
            });
        }
        Ok(ComponentAddr::new(segs[0], &name, key))
    }
}

impl FromStr for NativeAddr {
    type Err = AddrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let segs = segments(input);
        match segs.len() {
            2 => Ok(NativeAddr {
                component: input.parse()?,
                native: None,
            }),
            4 if is_ident(segs[2]) && is_ident(segs[3]) => Ok(NativeAddr {
                component: format!("{}.{}", segs[0], segs[1]).parse()?,
                native: Some((segs[2].to_string(), segs[3].to_string())),
            }),
            _ => Err(AddrError {
                input: input.to_string(),
                reason: "expected TYPE.NAME[KEY] or TYPE.NAME[KEY].NATIVE_TYPE.LOCAL_NAME".into(),
            }),
        }
    }
}

macro_rules! serde_as_string {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_string!(ComponentAddr);
serde_as_string!(NativeAddr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "postgres.meta",
            "sandbox_object.item[3]",
            "network.zone[\"eu.west\"]",
            "postgres.meta.sandbox_pg_replica.r0",
            "network.zone[\"a\"].sandbox_subnet.zone_0",
        ] {
            let a: NativeAddr = s.parse().expect(s);
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["postgres", "a.b.c", "a.b[x]", "1a.b", "a.b[\"x]"] {
            assert!(s.parse::<NativeAddr>().is_err(), "{s}");
        }
    }

    #[test]
    fn pattern_matching() {
        let a: NativeAddr = "postgres.meta[0].sandbox_pg_replica.r0"
            .parse()
            .expect("addr");
        assert!(a.matches("postgres.meta"));
        assert!(a.matches("postgres.meta[0]"));
        assert!(a.matches("postgres.meta[0].sandbox_pg_replica.r0"));
        assert!(!a.matches("postgres.other"));
    }
}
