//! The conformance suite every provider must pass against its simulator (the sandbox's
//! simulated cloud, ovh-sim, gcp-sim) or moto (AWS). Each provider's `tests/conformance.rs`
//! calls [`run_all`] with a few cheap native [`Case`]s and the [`Hooks`] that change an object
//! behind the provider's back.
//!
//! The rules are the [`Provider`] contract, in the order of an object's life: a create reads
//! back with its configuration; a second create under the same [`Identity`] adopts the same
//! object (where CloudFormation's contract tests expect "already exists", ours expect the same
//! id: creates are idempotent); `find` by identity returns it; a plan of the same configuration
//! against what was read is a no-op; an updatable attribute changes in place; a change made
//! out of band shows in the next `read_many`; `import` by id returns it; `read_many` answers
//! `None` for ids it does not know, in order; after a delete the object reads as `None`, and a
//! second delete succeeds.
//!
//! This is test support: a failed check panics with a message naming the broken rule.

#![allow(clippy::panic)]

use std::future::Future;

use crate::provider::{
    Attrs, CreateRequest, Identity, PlanRequest, Provider, ProviderError, ResourceState, same,
    with_defaults,
};
use crate::schema::ResourceSchema;
use crate::value::Value;

/// One native resource put through every check.
#[derive(Clone, Debug)]
pub struct Case {
    pub type_name: String,
    /// The address its identity (and so its cloud-side name) is derived from; unique per case.
    pub address: String,
    /// The configuration it is created with (defaults are applied as the planner does).
    pub config: Attrs,
    /// A well-formed id of this type that names no object.
    pub unknown_id: String,
    /// An attribute the provider changes in place, and its new value.
    pub update: Option<(String, Value)>,
    /// An attribute [`Hooks::drift`] changes behind the provider's back, and the value it sets.
    pub drift: Option<(String, Value)>,
}

impl Case {
    pub fn new(type_name: &str, address: &str, config: Attrs, unknown_id: &str) -> Case {
        Case {
            type_name: type_name.to_string(),
            address: address.to_string(),
            config,
            unknown_id: unknown_id.to_string(),
            update: None,
            drift: None,
        }
    }

    /// Also checks an in-place update of `attr` to `value`.
    pub fn update(mut self, attr: &str, value: impl Into<Value>) -> Case {
        self.update = Some((attr.to_string(), value.into()));
        self
    }

    /// Also checks that an out-of-band change of `attr` to `value` shows in the next read.
    pub fn drift(mut self, attr: &str, value: impl Into<Value>) -> Case {
        self.drift = Some((attr.to_string(), value.into()));
        self
    }
}

/// What only the provider's own test knows how to do.
pub trait Hooks {
    /// Sets `attr` of `object` (of type `type_name`) to `value` behind the provider's back, as
    /// someone at the cloud's console would, and returns once a read would see it.
    fn drift(
        &self,
        type_name: &str,
        object: &ResourceState,
        attr: &str,
        value: &Value,
    ) -> impl Future<Output = Result<(), String>>;
}

/// Runs every check on every case, one case after the other, under identities of `stack`.
pub async fn run_all(provider: &dyn Provider, stack: &str, cases: &[Case], hooks: &impl Hooks) {
    for case in cases {
        run_case(provider, stack, case, hooks).await;
    }
}

/// Runs every check on one case: its object is created, changed and deleted.
pub async fn run_case(provider: &dyn Provider, stack: &str, case: &Case, hooks: &impl Hooks) {
    let Some(schema) = provider.schema().resources.get(&case.type_name) else {
        panic!(
            "{}: the case's type {:?} is not in the provider's schema",
            provider.name(),
            case.type_name
        )
    };
    let mut s = Subject {
        provider,
        case,
        schema,
        identity: Identity {
            stack: stack.to_string(),
            address: case.address.clone(),
        },
        config: case.config.clone(),
    };
    let read = create_reads_back(&s).await;
    create_again_adopts(&s, &read).await;
    find_returns_it(&s, &read).await;
    find_of_another_identity_is_none(&s).await;
    plan_of_the_same_config_is_a_no_op(&s, &read);
    let read = update_changes_in_place(&mut s, read).await;
    let read = drift_shows_in_the_next_read(&s, hooks, read).await;
    import_returns_it(&s, &read).await;
    read_many_answers_in_order_none_for_unknown_ids(&s, &read).await;
    delete_then_read_is_none(&s, &read).await;
    delete_twice_succeeds(&s, &read).await;
    import_of_a_deleted_id_is_not_found(&s, &read).await;
}

/// Creates a prerequisite object (a network a subnet needs) outside the checks, with the
/// schema's defaults applied as the planner applies them.
pub async fn create(
    provider: &dyn Provider,
    stack: &str,
    type_name: &str,
    address: &str,
    config: &Attrs,
) -> ResourceState {
    let identity = Identity {
        stack: stack.to_string(),
        address: address.to_string(),
    };
    let config = match provider.schema().resources.get(type_name) {
        Some(schema) => with_defaults(schema, config),
        None => config.clone(),
    };
    provider
        .create(CreateRequest {
            type_name,
            identity: &identity,
            config: &config,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: create {type_name} {address}: {e}", provider.name()))
}

/// The provider, the case and what the checks have changed so far.
struct Subject<'a> {
    provider: &'a dyn Provider,
    case: &'a Case,
    schema: &'a ResourceSchema,
    identity: Identity,
    /// The configuration the object should now have: the case's, plus the update once made.
    config: Attrs,
}

impl Subject<'_> {
    /// `provider type address` for messages.
    fn who(&self) -> String {
        format!(
            "{} {} {}",
            self.provider.name(),
            self.case.type_name,
            self.case.address
        )
    }

    fn fail(&self, rule: &str, detail: impl std::fmt::Debug) -> ! {
        panic!("{}: {rule}: {detail:?}", self.who())
    }

    fn ok<T>(&self, rule: &str, result: Result<T, ProviderError>) -> T {
        result.unwrap_or_else(|e| self.fail(rule, e))
    }

    /// Creates with the configuration the planner would send: defaults applied.
    async fn create(&self) -> Result<ResourceState, ProviderError> {
        self.provider
            .create(CreateRequest {
                type_name: &self.case.type_name,
                identity: &self.identity,
                config: &with_defaults(self.schema, &self.config),
            })
            .await
    }

    async fn read(&self, ids: &[String]) -> Vec<Option<ResourceState>> {
        let read = self.ok(
            "read_many answers",
            self.provider.read_many(&self.case.type_name, ids).await,
        );
        if read.len() != ids.len() {
            self.fail(
                "read_many answers one entry per id",
                (ids, read.len(), read),
            );
        }
        read
    }

    /// The object read by id; fails the check `rule` when it is missing.
    async fn read_one(&self, rule: &str, id: &str) -> ResourceState {
        match self.read(&[id.to_string()]).await.pop().flatten() {
            Some(state) => {
                if state.id != id {
                    self.fail(rule, format!("read_many of {id} answered {}", state.id));
                }
                state
            }
            None => self.fail(rule, format!("read_many of {id} answered None")),
        }
    }

    /// Configured attributes whose value in `state` is not the configured one (write-only
    /// attributes aside: the cloud never returns them).
    fn differences(&self, state: &ResourceState) -> Vec<(String, Value, Option<Value>)> {
        with_defaults(self.schema, &self.config)
            .into_iter()
            .filter(|(name, value)| !value.is_null() && !self.is_write_only(name))
            .filter_map(|(name, value)| {
                let expected = match self.schema.attribute(&name) {
                    Some(attr) => attr.ty.convert(value),
                    None => value,
                };
                let actual = state.attrs.get(&name);
                let matches = actual.is_some_and(|a| same(a, &expected));
                (!matches).then(|| (name, expected, actual.cloned()))
            })
            .collect()
    }

    fn is_write_only(&self, name: &str) -> bool {
        self.schema.attribute(name).is_some_and(|a| a.write_only)
    }

    fn expect_configured(&self, rule: &str, state: &ResourceState) {
        let differences = self.differences(state);
        if !differences.is_empty() {
            self.fail(rule, differences);
        }
    }

    /// What the planner would hold after a refresh that read `read`: a write-only attribute
    /// read as null keeps its recorded (here: configured) value.
    fn as_refreshed(&self, read: &ResourceState) -> ResourceState {
        let mut out = read.clone();
        for (name, value) in &self.config {
            if self.is_write_only(name) && out.attrs.get(name).is_none_or(Value::is_null) {
                out.attrs.insert(name.clone(), value.clone());
            }
        }
        out
    }

    /// Plans the current configuration against `prior`; answers the attributes that would
    /// change (as the planner judges them) and those that force a replacement.
    fn plan(&self, prior: &ResourceState) -> (Vec<String>, Vec<String>) {
        let prior = self.as_refreshed(prior);
        let proposed = with_defaults(self.schema, &self.config);
        let response = self
            .provider
            .plan(PlanRequest {
                type_name: &self.case.type_name,
                prior: Some(&prior),
                proposed: &proposed,
            })
            .unwrap_or_else(|d| self.fail("plan answers", d));
        (
            changed(self.schema, &prior.attrs, &response.planned),
            response.requires_replace,
        )
    }
}

/// Configurable attributes (and blocks) that differ between `prior` and `planned`, as the
/// planner's walk decides between a no-op and a change: an optional and computed attribute
/// planned unknown keeps what the provider chose.
fn changed(schema: &ResourceSchema, prior: &Attrs, planned: &Attrs) -> Vec<String> {
    let attributes = schema
        .body
        .attributes
        .iter()
        .filter(|(_, a)| a.is_configurable())
        .filter(|(name, a)| !(a.is_computed() && planned.get(*name).is_none_or(Value::is_unknown)))
        .map(|(name, _)| name);
    attributes
        .chain(schema.body.blocks.keys())
        .filter(|name| {
            let before = prior.get(*name).cloned().unwrap_or(Value::Null);
            let after = planned.get(*name).cloned().unwrap_or(Value::Null);
            !after.is_wholly_known() || !same(&before, &after)
        })
        .cloned()
        .collect()
}

async fn create_reads_back(s: &Subject<'_>) -> ResourceState {
    let created = s.ok("create succeeds", s.create().await);
    s.expect_configured("a create answers the configured attributes", &created);
    let read = s
        .read_one("read_many returns the object just created", &created.id)
        .await;
    s.expect_configured(
        "read_many after a create returns the configured attributes",
        &read,
    );
    read
}

async fn create_again_adopts(s: &Subject<'_>, read: &ResourceState) {
    let again = s.ok(
        "a second create under the same identity succeeds (it adopts)",
        s.create().await,
    );
    if again.id != read.id {
        s.fail(
            "a second create under the same identity adopts the same object",
            (&read.id, &again.id),
        );
    }
}

async fn find_returns_it(s: &Subject<'_>, read: &ResourceState) {
    let found = s.ok(
        "find answers",
        s.provider.find(&s.case.type_name, &s.identity).await,
    );
    match found {
        Some(found) if found.id == read.id => {}
        other => s.fail(
            "find by identity returns the object created under it",
            other,
        ),
    }
}

async fn find_of_another_identity_is_none(s: &Subject<'_>) {
    let other = Identity {
        stack: s.identity.stack.clone(),
        address: format!("{}_never_created", s.identity.address),
    };
    let found = s.ok(
        "find of an identity never created answers",
        s.provider.find(&s.case.type_name, &other).await,
    );
    if let Some(found) = found {
        s.fail("find of an identity never created is None", found);
    }
}

fn plan_of_the_same_config_is_a_no_op(s: &Subject<'_>, read: &ResourceState) {
    let (changed, replace) = s.plan(read);
    if !changed.is_empty() || !replace.is_empty() {
        s.fail(
            "a plan of the same configuration against the read object is a no-op \
             (changed, requires_replace)",
            (changed, replace),
        );
    }
}

async fn update_changes_in_place(s: &mut Subject<'_>, read: ResourceState) -> ResourceState {
    let Some((attr, value)) = s.case.update.clone() else {
        return read;
    };
    s.config.insert(attr.clone(), value);
    let (changed, replace) = s.plan(&read);
    if changed != [attr.clone()] || !replace.is_empty() {
        s.fail(
            &format!("a change of `{attr}` plans an in-place update of it alone"),
            (changed, replace),
        );
    }
    let updated = s.ok(
        "update succeeds",
        s.provider
            .update(
                &s.case.type_name,
                &read,
                &with_defaults(s.schema, &s.config),
            )
            .await,
    );
    if updated.id != read.id {
        s.fail("an update keeps the object's id", (&read.id, &updated.id));
    }
    s.expect_configured("an update answers the new configuration", &updated);
    let read = s
        .read_one("read_many returns the updated object", &read.id)
        .await;
    s.expect_configured("read_many after an update returns the new value", &read);
    plan_of_the_same_config_is_a_no_op(s, &read);
    read
}

async fn drift_shows_in_the_next_read(
    s: &Subject<'_>,
    hooks: &impl Hooks,
    read: ResourceState,
) -> ResourceState {
    let Some((attr, value)) = &s.case.drift else {
        return read;
    };
    if let Err(e) = hooks.drift(&s.case.type_name, &read, attr, value).await {
        s.fail(&format!("the test's drift hook sets `{attr}`"), e);
    }
    let drifted = s
        .read_one("read_many returns an object changed out of band", &read.id)
        .await;
    let expected = match s.schema.attribute(attr) {
        Some(a) => a.ty.convert(value.clone()),
        None => value.clone(),
    };
    if !drifted.attrs.get(attr).is_some_and(|v| same(v, &expected)) {
        s.fail(
            &format!("an out-of-band change of `{attr}` shows in the next read_many"),
            (expected, drifted.attrs.get(attr)),
        );
    }
    let (changed, _) = s.plan(&drifted);
    if s.config.contains_key(attr) && !changed.contains(attr) {
        s.fail(
            &format!("a plan after an out-of-band change of `{attr}` changes it back"),
            changed,
        );
    }
    drifted
}

async fn import_returns_it(s: &Subject<'_>, read: &ResourceState) {
    let imported = s.ok(
        "import by id succeeds",
        s.provider.import(&s.case.type_name, &read.id).await,
    );
    if imported.id != read.id {
        s.fail("import by id returns that object", (&read.id, &imported.id));
    }
    let differing: Vec<&String> = read
        .attrs
        .iter()
        .filter(|(name, value)| !imported.attrs.get(*name).is_some_and(|v| same(v, value)))
        .map(|(name, _)| name)
        .collect();
    if !differing.is_empty() {
        s.fail(
            "import by id returns what read_many returns",
            (differing, &imported.attrs),
        );
    }
}

async fn read_many_answers_in_order_none_for_unknown_ids(s: &Subject<'_>, read: &ResourceState) {
    let unknown = s.case.unknown_id.clone();
    let ids = [unknown.clone(), read.id.clone(), unknown];
    let answers: Vec<Option<String>> = s
        .read(&ids)
        .await
        .into_iter()
        .map(|r| r.map(|r| r.id))
        .collect();
    if answers != [None, Some(read.id.clone()), None] {
        s.fail(
            "read_many answers in the order asked, None for an unknown id (not an error)",
            (ids, answers),
        );
    }
}

async fn delete_then_read_is_none(s: &Subject<'_>, read: &ResourceState) {
    s.ok(
        "delete succeeds",
        s.provider.delete(&s.case.type_name, read).await,
    );
    if let Some(Some(left)) = s.read(std::slice::from_ref(&read.id)).await.pop() {
        s.fail("read_many after a delete answers None", left);
    }
    let found = s.ok(
        "find after a delete answers",
        s.provider.find(&s.case.type_name, &s.identity).await,
    );
    if let Some(found) = found {
        s.fail(
            "find after a delete is None (recovery must not adopt a deleted object)",
            found,
        );
    }
}

async fn delete_twice_succeeds(s: &Subject<'_>, read: &ResourceState) {
    s.ok(
        "deleting what is already gone succeeds",
        s.provider.delete(&s.case.type_name, read).await,
    );
}

async fn import_of_a_deleted_id_is_not_found(s: &Subject<'_>, read: &ResourceState) {
    match s.provider.import(&s.case.type_name, &read.id).await {
        Err(ProviderError::NotFound(_)) => {}
        other => s.fail("import of a deleted id is NotFound", other),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::provider::{FindResult, ReadResult, StateResult};
    use crate::schema::{AttrType, AttributeSchema, Body, ProviderSchema};

    const DISK: &str = "mem_disk";

    /// An in-memory cloud of one type, `mem_disk`: `label` forces a replacement, `size`
    /// changes in place. With `adopts` false a create ignores the identity's existing object,
    /// which breaks the idempotent-create rule.
    struct Memory {
        schema: ProviderSchema,
        /// Id → (deterministic name, attributes).
        objects: Mutex<BTreeMap<String, (String, Attrs)>>,
        adopts: bool,
    }

    impl Memory {
        fn new(adopts: bool) -> Memory {
            let body = Body::default()
                .attr("id", AttributeSchema::computed(AttrType::String, ""))
                .attr(
                    "label",
                    AttributeSchema::required(AttrType::String, "").force_new(),
                )
                .attr(
                    "size",
                    AttributeSchema::optional(AttrType::Number, "").default(1),
                );
            Memory {
                schema: ProviderSchema {
                    config: Body::default(),
                    resources: BTreeMap::from([(
                        DISK.to_string(),
                        ResourceSchema::native(DISK, "", body),
                    )]),
                    components: Vec::new(),
                },
                objects: Mutex::new(BTreeMap::new()),
                adopts,
            }
        }

        fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, Attrs)>> {
            self.objects.lock().expect("objects")
        }

        fn state(id: &str, attrs: &Attrs) -> ResourceState {
            ResourceState {
                id: id.to_string(),
                attrs: attrs.clone(),
            }
        }
    }

    #[async_trait]
    impl Provider for Memory {
        fn name(&self) -> &str {
            "memory"
        }

        fn schema(&self) -> &ProviderSchema {
            &self.schema
        }

        async fn create(&self, req: CreateRequest<'_>) -> StateResult {
            let name = req.identity.name(40);
            let mut objects = self.objects();
            if self.adopts
                && let Some((id, (_, attrs))) = objects.iter().find(|(_, (n, _))| *n == name)
            {
                return Ok(Memory::state(id, attrs));
            }
            let id = format!("d-{}", objects.len() + 1);
            let mut attrs = req.config.clone();
            attrs.insert("id".into(), Value::from(id.as_str()));
            objects.insert(id.clone(), (name, attrs.clone()));
            Ok(Memory::state(&id, &attrs))
        }

        async fn find(&self, _type_name: &str, identity: &Identity) -> FindResult {
            let name = identity.name(40);
            Ok(self
                .objects()
                .iter()
                .find(|(_, (n, _))| *n == name)
                .map(|(id, (_, attrs))| Memory::state(id, attrs)))
        }

        async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
            let objects = self.objects();
            Ok(ids
                .iter()
                .map(|id| objects.get(id).map(|(_, attrs)| Memory::state(id, attrs)))
                .collect())
        }

        async fn update(
            &self,
            _type_name: &str,
            prior: &ResourceState,
            config: &Attrs,
        ) -> StateResult {
            let mut objects = self.objects();
            let Some((_, attrs)) = objects.get_mut(&prior.id) else {
                return Err(ProviderError::NotFound(prior.id.clone()));
            };
            attrs.extend(config.clone());
            Ok(Memory::state(&prior.id, attrs))
        }

        async fn delete(
            &self,
            _type_name: &str,
            prior: &ResourceState,
        ) -> Result<(), ProviderError> {
            self.objects().remove(&prior.id);
            Ok(())
        }
    }

    /// Drift made by editing the memory directly; with `works` false it changes nothing.
    struct Poke<'a> {
        memory: &'a Memory,
        works: bool,
    }

    impl Hooks for Poke<'_> {
        async fn drift(
            &self,
            _type_name: &str,
            object: &ResourceState,
            attr: &str,
            value: &Value,
        ) -> Result<(), String> {
            if self.works {
                let mut objects = self.memory.objects();
                let (_, attrs) = objects.get_mut(&object.id).ok_or("no such object")?;
                attrs.insert(attr.to_string(), value.clone());
            }
            Ok(())
        }
    }

    fn case() -> Case {
        Case::new(
            DISK,
            "disk.main",
            Attrs::from([("label".to_string(), Value::from("a"))]),
            "d-999",
        )
        .update("size", 2)
        .drift("size", 3)
    }

    async fn run(memory: &Memory, works: bool, cases: &[Case]) {
        let hooks = Poke { memory, works };
        run_all(memory, "test", cases, &hooks).await;
    }

    #[tokio::test]
    async fn a_conforming_provider_passes_and_leaves_nothing() {
        let memory = Memory::new(true);
        run(&memory, true, &[case(), case().update("size", 5)]).await;
        assert!(memory.objects().is_empty());
    }

    #[tokio::test]
    #[should_panic(expected = "a second create under the same identity adopts the same object")]
    async fn a_create_that_makes_a_second_object_fails() {
        let memory = Memory::new(false);
        run(&memory, true, &[case()]).await;
    }

    #[tokio::test]
    #[should_panic(expected = "an out-of-band change of `size` shows in the next read_many")]
    async fn a_drift_that_does_not_show_fails() {
        let memory = Memory::new(true);
        run(&memory, false, &[case()]).await;
    }

    #[tokio::test]
    #[should_panic(expected = "a change of `label` plans an in-place update of it alone")]
    async fn an_update_of_a_force_new_attribute_fails() {
        let memory = Memory::new(true);
        run(&memory, true, &[case().update("label", "b")]).await;
    }
}
