//! The `generated_secret` native type: a random string made once, on the machine running ss,
//! and kept only in the (encrypted) state. Superset's `SECRET_KEY` is one: it signs the
//! session cookies and encrypts the database passwords Superset stores, so it must be the same
//! for every pod and must never change by itself (Superset's own docs: "generate a strong
//! secret key … once", <https://superset.apache.org/docs/configuration/configuring-superset>).
//!
//! Nothing exists in a cloud: a read answers the id with its value left out (`write_only`, so
//! the planner keeps the recorded value), a delete forgets it.

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::kit::schema::{n, s, with_id};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use rand::Rng;
use rand::distr::Alphanumeric;

/// The native type's name.
pub const GENERATED_SECRET: &str = "generated_secret";

/// Characters in a secret when the configuration names no length: 64 letters and digits,
/// about 380 bits.
pub const DEFAULT_LENGTH: i64 = 64;

pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        GENERATED_SECRET,
        "A random secret made once and kept in the state",
        with_id("A tag of this secret (not the secret)")
            .attr(
                "length",
                A::optional(n(), "Letters and digits, 32–256")
                    .default(DEFAULT_LENGTH)
                    .force_new()
                    .write_only(),
            )
            .attr(
                "value",
                A::computed(s(), "The secret").sensitive().write_only(),
            )
            .attr(
                "base64",
                A::computed(s(), "The secret in base64 (a Kubernetes Secret's `data`)")
                    .sensitive()
                    .write_only(),
            ),
    )
}

/// The service every provider registers for `generated_secret`.
#[derive(Debug, Default)]
pub struct Generated;

fn length(config: &Attrs) -> Result<usize, ProviderError> {
    let n = config
        .get("length")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_LENGTH);
    if !(32..=256).contains(&n) {
        return Err(ProviderError::Invalid(format!(
            "`length` must be from 32 to 256, got {n}"
        )));
    }
    Ok(n as usize)
}

fn generate(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[async_trait]
impl Service for Generated {
    fn types(&self) -> &'static [&'static str] {
        &[GENERATED_SECRET]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        let len = length(req.config)?;
        let secret = generate(len);
        let tag = generate(16).to_lowercase();
        Ok(ResourceState {
            id: tag,
            attrs: Attrs::from([
                ("length".into(), Value::from(len as i64)),
                ("base64".into(), Value::from(encode(&secret)).sensitive()),
                ("value".into(), Value::from(secret).sensitive()),
            ]),
        })
    }

    async fn find(&self, _type_name: &str, _identity: &Identity) -> FindResult {
        // Nothing outside the state holds it: there is nothing to adopt.
        Ok(None)
    }

    async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
        Ok(ids
            .iter()
            .map(|id| {
                Some(ResourceState {
                    id: id.clone(),
                    attrs: Attrs::new(),
                })
            })
            .collect())
    }

    async fn update(
        &self,
        _type_name: &str,
        prior: &ResourceState,
        _config: &Attrs,
    ) -> StateResult {
        // Every configurable attribute forces a new secret: an update changes nothing.
        Ok(prior.clone())
    }

    async fn delete(&self, _type_name: &str, _prior: &ResourceState) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(config: &Attrs) -> (Identity, Attrs) {
        (
            Identity {
                stack: "s".into(),
                address: "superset.app.secret_key".into(),
            },
            config.clone(),
        )
    }

    #[tokio::test]
    async fn each_secret_is_new_long_and_marked_sensitive() {
        let (identity, config) = request(&Attrs::new());
        let req = CreateRequest {
            type_name: GENERATED_SECRET,
            identity: &identity,
            config: &config,
        };
        let a = Generated.create(&req).await.expect("a");
        let b = Generated.create(&req).await.expect("b");
        let value = |st: &ResourceState| match st.attrs.get("value") {
            Some(Value::Sensitive(inner)) => inner.as_str().map(str::to_string),
            _ => None,
        };
        let (va, vb) = (value(&a).expect("sensitive"), value(&b).expect("sensitive"));
        assert_eq!(va.len(), DEFAULT_LENGTH as usize);
        assert!(va.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(va, vb);
        assert_ne!(a.id, b.id);
        assert!(!a.id.contains(&va), "the id is not the secret");
        assert!(matches!(a.attrs.get("base64"), Some(Value::Sensitive(_))));
        assert!(!format!("{:?}", a.attrs).contains(&va), "Debug hides it");
    }

    #[tokio::test]
    async fn a_read_leaves_the_value_to_the_state_and_bad_lengths_are_refused() {
        let read = Generated
            .read_many(GENERATED_SECRET, &["t".into()])
            .await
            .expect("read");
        let st = read[0].as_ref().expect("present");
        assert!(!st.attrs.contains_key("value"));
        let (identity, config) = request(&Attrs::from([("length".into(), Value::from(8))]));
        let req = CreateRequest {
            type_name: GENERATED_SECRET,
            identity: &identity,
            config: &config,
        };
        assert!(Generated.create(&req).await.is_err());
        let schema = schema();
        for attr in ["value", "base64"] {
            let a = schema.attribute(attr).expect(attr);
            assert!(a.sensitive && a.write_only, "{attr}");
        }
    }
}
