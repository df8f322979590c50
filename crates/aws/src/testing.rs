//! Test fixtures on a real AWS emulator (moto): a VPC with an instance that has two
//! security groups and an instance profile whose role already has an inline policy, built
//! with the SDK, plus the reads tests assert the emulator's state with; and
//! [`ebs_snapshot`], a disk image uploaded as an EBS snapshot; [`ec2_instance`], an
//! instance whose volumes were created from such snapshots. For other crates' tests
//! (feature `testing`); nothing in the product uses it.

pub mod ebs_snapshot;
pub mod ec2_instance;
pub mod images;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification, SecurityGroup};

/// The role's own inline policy: isolation must leave it untouched.
pub const APP_POLICY_NAME: &str = "app-read-logs";

/// An SDK configuration for the emulator at `endpoint` with static test credentials.
pub async fn config(endpoint: &str, region: &str, access_key: &str, secret: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key,
            secret,
            None,
            None,
            "riposte-test",
        ))
        .load()
        .await
}

/// The same configuration with credentials of `role_arn` assumed through the emulator's STS.
pub async fn assumed_config(base: &SdkConfig, endpoint: &str, role_arn: &str) -> SdkConfig {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("riposte-test-setup")
        .configure(base)
        .build()
        .await;
    aws_config::defaults(BehaviorVersion::latest())
        .region(base.region().cloned())
        .endpoint_url(endpoint)
        .credentials_provider(provider)
        .load()
        .await
}

/// An IAM user allowed `actions` on every resource, created through `iam`; returns an
/// SDK configuration for the emulator at `endpoint` signed with the user's new keys.
pub async fn iam_user(
    iam: &aws_sdk_iam::Client,
    endpoint: &str,
    region: &str,
    name: &str,
    actions: &[&str],
) -> SdkConfig {
    let policy = serde_json::json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    setup("CreateUser", iam.create_user().user_name(name).send().await);
    setup(
        "PutUserPolicy",
        iam.put_user_policy()
            .user_name(name)
            .policy_name("access")
            .policy_document(policy.to_string())
            .send()
            .await,
    );
    let key = setup(
        "CreateAccessKey",
        iam.create_access_key().user_name(name).send().await,
    );
    let key = key.access_key().expect("the new access key");
    config(
        endpoint,
        region,
        key.access_key_id(),
        key.secret_access_key(),
    )
    .await
}

/// What the fixture created.
pub struct World {
    /// EC2 client on the emulator.
    pub ec2: aws_sdk_ec2::Client,
    /// IAM client on the emulator.
    pub iam: aws_sdk_iam::Client,
    /// The VPC.
    pub vpc_id: String,
    /// The running instance.
    pub instance_id: String,
    /// Its two security groups, in the order given at launch.
    pub group_ids: Vec<String>,
    /// The role of its instance profile.
    pub role_name: String,
    /// A second running instance with no instance profile.
    pub bare_instance_id: String,
}

/// Panics with the operation's name and the SDK error.
fn setup<T, E: std::fmt::Debug>(what: &str, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("fixture {what} failed: {e:?}"))
}

impl World {
    /// Creates the VPC, subnet, groups, role, instance profile and instances.
    pub async fn create(config: &SdkConfig) -> World {
        let ec2 = aws_sdk_ec2::Client::new(config);
        let iam = aws_sdk_iam::Client::new(config);
        let vpc = setup(
            "CreateVpc",
            ec2.create_vpc().cidr_block("10.9.0.0/16").send().await,
        );
        let vpc_id = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_string();
        let subnet = setup(
            "CreateSubnet",
            ec2.create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block("10.9.1.0/24")
                .send()
                .await,
        );
        let subnet_id = subnet
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string();
        let mut group_ids = Vec::new();
        for name in ["web", "ssh"] {
            let group = setup(
                "CreateSecurityGroup",
                ec2.create_security_group()
                    .group_name(name)
                    .description(format!("{name} access"))
                    .vpc_id(&vpc_id)
                    .send()
                    .await,
            );
            group_ids.push(group.group_id().unwrap_or_default().to_string());
        }

        let role_name = "app-server".to_string();
        let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        setup(
            "CreateRole",
            iam.create_role()
                .role_name(&role_name)
                .assume_role_policy_document(trust.to_string())
                .send()
                .await,
        );
        let app_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "logs:GetLogEvents", "Resource": "*"}]});
        setup(
            "PutRolePolicy",
            iam.put_role_policy()
                .role_name(&role_name)
                .policy_name(APP_POLICY_NAME)
                .policy_document(app_policy.to_string())
                .send()
                .await,
        );
        let profile = setup(
            "CreateInstanceProfile",
            iam.create_instance_profile()
                .instance_profile_name("app-server-profile")
                .path("/riposte-test/")
                .send()
                .await,
        );
        let profile_arn = profile
            .instance_profile()
            .map(|p| p.arn().to_string())
            .unwrap_or_default();
        setup(
            "AddRoleToInstanceProfile",
            iam.add_role_to_instance_profile()
                .instance_profile_name("app-server-profile")
                .role_name(&role_name)
                .send()
                .await,
        );

        let run = |with_profile: bool| {
            let mut request = ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet_id)
                .set_security_group_ids(Some(group_ids.clone()));
            if with_profile {
                request = request.iam_instance_profile(
                    IamInstanceProfileSpecification::builder()
                        .arn(&profile_arn)
                        .build(),
                );
            }
            request.send()
        };
        let instance_id = setup("RunInstances", run(true).await)
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .unwrap_or_default()
            .to_string();
        let bare_instance_id = setup("RunInstances", run(false).await)
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .unwrap_or_default()
            .to_string();
        World {
            ec2,
            iam,
            vpc_id,
            instance_id,
            group_ids,
            role_name,
            bare_instance_id,
        }
    }

    /// The instance's state name now.
    pub async fn instance_state(&self, instance_id: &str) -> String {
        let out = setup(
            "DescribeInstances",
            self.ec2
                .describe_instances()
                .instance_ids(instance_id)
                .send()
                .await,
        );
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| i.state().and_then(|s| s.name()))
            .map(|n| n.as_str().to_string())
            .unwrap_or_default()
    }

    /// The instance's security group ids now, sorted.
    pub async fn instance_group_ids(&self, instance_id: &str) -> Vec<String> {
        let out = setup(
            "DescribeInstances",
            self.ec2
                .describe_instances()
                .instance_ids(instance_id)
                .send()
                .await,
        );
        let mut ids: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .flat_map(|i| i.security_groups())
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// The original groups, sorted.
    pub fn sorted_group_ids(&self) -> Vec<String> {
        let mut ids = self.group_ids.clone();
        ids.sort();
        ids
    }

    /// The security group with this id, if it exists.
    pub async fn security_group(&self, group_id: &str) -> Option<SecurityGroup> {
        let out = self
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-id").values(group_id).build())
            .send()
            .await;
        setup("DescribeSecurityGroups", out)
            .security_groups()
            .first()
            .cloned()
    }

    /// Every security group in the VPC whose name starts with `prefix`.
    pub async fn groups_named(&self, prefix: &str) -> Vec<SecurityGroup> {
        let out = setup(
            "DescribeSecurityGroups",
            self.ec2
                .describe_security_groups()
                .filters(
                    Filter::builder()
                        .name("vpc-id")
                        .values(&self.vpc_id)
                        .build(),
                )
                .send()
                .await,
        );
        out.security_groups()
            .iter()
            .filter(|g| g.group_name().is_some_and(|n| n.starts_with(prefix)))
            .cloned()
            .collect()
    }

    /// The role's inline policy names, sorted.
    pub async fn role_policy_names(&self) -> Vec<String> {
        let out = setup(
            "ListRolePolicies",
            self.iam
                .list_role_policies()
                .role_name(&self.role_name)
                .send()
                .await,
        );
        let mut names: Vec<String> = out.policy_names().to_vec();
        names.sort();
        names
    }

    /// The role's inline policy `name` as JSON (IAM returns it URL-encoded, RFC 3986), or
    /// none when the role has no such policy.
    pub async fn role_policy(&self, name: &str) -> Option<serde_json::Value> {
        match self
            .iam
            .get_role_policy()
            .role_name(&self.role_name)
            .policy_name(name)
            .send()
            .await
        {
            Ok(out) => {
                let decoded = percent_encoding::percent_decode_str(out.policy_document())
                    .decode_utf8()
                    .unwrap_or_else(|e| panic!("policy document is not UTF-8: {e}"));
                Some(
                    serde_json::from_str(&decoded)
                        .unwrap_or_else(|e| panic!("policy document is not JSON: {e}: {decoded}")),
                )
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                None
            }
            Err(e) => panic!("GetRolePolicy failed: {e:?}"),
        }
    }
}
