//! The provider conformance suite (`provider_api::conformance`) against moto; drift is made with
//! the EC2 SDK directly, as from the AWS console. Start moto with
//! `export SS_TEST_MOTO_URL="$(scripts/moto-start)"` (see `common`).

mod common;

use aws_sdk_ec2::types::AttributeBooleanValue;
use common::{Calls, Moto, unique_stack};
use provider_api::conformance::{self, Case, Hooks};
use provider_api::{Attrs, Provider, ResourceState, Value};

/// Out-of-band changes through the EC2 API.
struct Console<'a>(&'a aws_sdk_ec2::Client);

impl Hooks for Console<'_> {
    async fn drift(
        &self,
        type_name: &str,
        object: &ResourceState,
        attr: &str,
        value: &Value,
    ) -> Result<(), String> {
        let flag = AttributeBooleanValue::builder()
            .value(value.as_bool().ok_or("the drift value is not a bool")?)
            .build();
        match (type_name, attr) {
            ("aws_vpc", "enable_dns_hostnames") => self
                .0
                .modify_vpc_attribute()
                .vpc_id(&object.id)
                .enable_dns_hostnames(flag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            ("aws_subnet", "map_public_ip_on_launch") => self
                .0
                .modify_subnet_attribute()
                .subnet_id(&object.id)
                .map_public_ip_on_launch(flag)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            other => Err(format!("no EC2 call known for {other:?}")),
        }
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_conforms() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let p = moto.provider(&Calls::default());
    // moto outlives the test: a fresh stack keeps earlier runs' objects out of the way.
    let stack = unique_stack("conformance");

    // The subnet's and security group's VPC, made outside the checks.
    let vpc = conformance::create(
        &p,
        &stack,
        "aws_vpc",
        "network.parent.aws_vpc.vpc",
        &attrs(&[("cidr_block", Value::from("10.21.0.0/16"))]),
    )
    .await;

    let cases = [
        Case::new(
            "aws_vpc",
            "network.main.aws_vpc.vpc",
            attrs(&[("cidr_block", Value::from("10.20.0.0/16"))]),
            "vpc-0000000000000000f",
        )
        .update("enable_dns_hostnames", false)
        .drift("enable_dns_hostnames", true),
        Case::new(
            "aws_subnet",
            "network.parent.aws_subnet.subnet_a",
            attrs(&[
                ("vpc_id", Value::from(vpc.id.as_str())),
                ("cidr_block", Value::from("10.21.1.0/24")),
                ("availability_zone", Value::from("us-east-1a")),
            ]),
            "subnet-0000000000000000f",
        )
        .update("map_public_ip_on_launch", true)
        .drift("map_public_ip_on_launch", false),
        Case::new(
            "aws_security_group",
            "network.parent.aws_security_group.cluster",
            attrs(&[
                ("vpc_id", Value::from(vpc.id.as_str())),
                (
                    "ingress_cidrs",
                    Value::List(vec![Value::from("10.21.0.0/16")]),
                ),
            ]),
            "sg-0000000000000000f",
        )
        .update(
            "ingress_cidrs",
            Value::List(vec![Value::from("10.30.0.0/16")]),
        ),
    ];
    conformance::run_all(&p, &stack, &cases, &Console(&moto.client)).await;

    p.delete("aws_vpc", &vpc).await.expect("delete the VPC");
}
