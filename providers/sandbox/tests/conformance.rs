//! The provider conformance suite (`provider_api::conformance`) against the sandbox's simulated
//! cloud, in a temporary directory; drift is made with `Cloud::set`, as `ss sandbox set` does.

use provider_api::conformance::{self, Case, Hooks};
use provider_api::{Attrs, Provider, ResourceState, Value};
use sandbox::SandboxProvider;

const STACK: &str = "conformance";

struct CloudSet<'a>(&'a SandboxProvider);

impl Hooks for CloudSet<'_> {
    async fn drift(
        &self,
        _type_name: &str,
        object: &ResourceState,
        attr: &str,
        value: &Value,
    ) -> Result<(), String> {
        let json = value
            .to_json()
            .ok_or("the drift value is not wholly known")?;
        self.0
            .cloud()
            .set(&object.id, attr, json)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let provider = sandbox::configure(
        &attrs(&[("dir", Value::from(dir.path().to_string_lossy().as_ref()))]),
        dir.path(),
    )
    .expect("configure");
    // The security group's VPC, made outside the checks.
    let vpc = conformance::create(
        &provider,
        STACK,
        "sandbox_vpc",
        "network.parent.sandbox_vpc.main",
        &attrs(&[("cidr", Value::from("10.1.0.0/16"))]),
    )
    .await;
    let cases = [
        Case::new(
            "sandbox_vpc",
            "network.main.sandbox_vpc.main",
            attrs(&[("cidr", Value::from("10.0.0.0/16"))]),
            "vpc-0000000000",
        )
        .update("enable_dns_hostnames", false)
        .drift("enable_dns_hostnames", true),
        Case::new(
            "sandbox_security_group",
            "network.main.sandbox_security_group.main",
            attrs(&[
                ("vpc_id", Value::from(vpc.id.as_str())),
                (
                    "ingress_cidrs",
                    Value::List(vec![Value::from("10.1.0.0/16")]),
                ),
            ]),
            "sg-0000000000",
        )
        .update("ingress_ports", Value::List(vec![Value::from(443)]))
        .drift("ingress_cidrs", Value::List(vec![Value::from("0.0.0.0/0")])),
        Case::new(
            "sandbox_object",
            "sandbox_object.main",
            attrs(&[("input", Value::from("one"))]),
            "obj-0000000000",
        )
        .update("input", "two")
        .drift("input", "three"),
    ];
    conformance::run_all(&provider, STACK, &cases, &CloudSet(&provider)).await;
    provider
        .delete("sandbox_vpc", &vpc)
        .await
        .expect("delete the VPC");
}
