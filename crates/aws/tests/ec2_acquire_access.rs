//! EC2 acquisition's credentials with the real AWS SDK against moto: each refused call
//! names the IAM permission to grant (moto enforcing IAM user policies once the fixture
//! is built), and `sts:AssumeRole` into another role names the investigation in its
//! session. moto answers a refused EC2 call with `AccessDenied` where AWS says
//! `UnauthorizedOperation`; both are mapped the same way.
//!
//! With IAM enforced, moto rejects every EC2 `CreateSnapshot` that carries Riposte's
//! tags with `AuthFailure` (its signature check of the request fails) before looking at
//! any policy, so the refusals of `CreateSnapshot`, `CreateTags` and `DeleteSnapshot`
//! are covered by the unit tests of the error mapping instead.

mod ebs_support;
mod ec2_support;

use aws_config::SdkConfig;
use ec2_support::{Emulator, REGION, ids, options, raw_instance};
use riposte_aws::acquire::{AssumeRole, Ec2AcquireError, Ec2Acquirer, assume_role};
use riposte_fakes::moto::{ACCOUNT_ID, EbsDirect};

/// Requests the fixture may make before moto enforces IAM policies (the fixture and
/// users take about 40; the rest are used up by [`enforce`]).
const UNCHECKED_REQUESTS: u32 = 120;

/// An IAM user allowed `actions` only, as an SDK configuration with its keys.
async fn user(emulator: &Emulator, name: &str, actions: &[&str]) -> SdkConfig {
    let iam = aws_sdk_iam::Client::new(&emulator.config);
    riposte_aws::testing::iam_user(&iam, &emulator.moto.url(), REGION, name, actions).await
}

/// Uses up moto's unchecked requests with calls `probe` is not allowed, until one is
/// refused: from then on every request is checked.
async fn enforce(probe: &SdkConfig) {
    let ec2 = aws_sdk_ec2::Client::new(probe);
    for _ in 0..UNCHECKED_REQUESTS {
        if let Err(err) = ec2.describe_regions().send().await {
            let code = aws_sdk_ec2::error::ProvideErrorMetadata::code(&err);
            assert_eq!(code, Some("AccessDenied"), "{err:?}");
            return;
        }
    }
    panic!("moto never enforced IAM policies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refused_lookup_names_the_permission_to_grant_and_creates_no_snapshot() {
    let mut emulator = Emulator::start_with(EbsDirect {
        snapshot_seconds: Some(0.0),
        enforce_iam_after: Some(UNCHECKED_REQUESTS),
        ..EbsDirect::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;
    let needed = [
        "ec2:DescribeInstances",
        "ec2:DescribeVolumes",
        "ec2:DescribeSnapshots",
    ];
    let mut users = Vec::new();
    for (n, missing) in needed.iter().enumerate() {
        let allowed: Vec<&str> = needed.iter().filter(|a| *a != missing).copied().collect();
        users.push((
            *missing,
            user(&emulator, &format!("lacks-{n}"), &allowed).await,
        ));
    }
    let probe = user(&emulator, "probe", &["s3:GetObject"]).await;
    emulator.config = user(&emulator, "admin", &["*"]).await;
    enforce(&probe).await;

    for (n, (missing, config)) in users.iter().enumerate() {
        let acquirer = Ec2Acquirer::new(config, options()).unwrap();
        let investigation = format!("inv-{n}");
        let result = acquirer
            .snapshot_instance(&investigation, &instance.instance_id, |_| {})
            .await;
        let err = result.expect_err("a permission is missing");
        match &err {
            Ec2AcquireError::AccessDenied { permission, .. } => {
                assert_eq!(permission, missing, "{err}")
            }
            other => panic!("lacking {missing}: expected AccessDenied, got {other:?}"),
        }
        assert!(err.to_string().contains(missing), "{err}");
        assert!(
            emulator.riposte_snapshots().await.is_empty(),
            "lacking {missing}: no snapshot made"
        );
    }

    let role = AssumeRole {
        role_arn: format!("arn:aws:iam::{ACCOUNT_ID}:role/riposte-acquire"),
        external_id: None,
    };
    let err = assume_role(&probe, &role, "inv-1")
        .await
        .expect_err("the probe may not assume roles");
    assert!(
        matches!(&err, Ec2AcquireError::AccessDenied { permission, .. } if *permission == "sts:AssumeRole"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assumed_role_acquires_in_a_session_named_after_the_investigation() {
    let emulator = Emulator::start(ec2_support::MOTO_BLOCK, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;
    let role = AssumeRole {
        role_arn: format!("arn:aws:iam::{ACCOUNT_ID}:role/riposte-acquire"),
        external_id: Some("riposte-external-id".into()),
    };
    let assumed = assume_role(&emulator.config, &role, "inv-9")
        .await
        .expect("assume the role");
    let who = aws_sdk_sts::Client::new(&assumed)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(
        who.arn(),
        Some(
            format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/riposte-acquire/riposte-inv-9")
                .as_str()
        )
    );
    let acquirer = Ec2Acquirer::new(&assumed, options()).unwrap();
    let taken = acquirer
        .snapshot_instance("inv-9", &instance.instance_id, |_| {})
        .await
        .expect("acquire with the role");
    assert_eq!(taken.snapshots.len(), 2);
    let cleanup = acquirer.cleanup(&taken).await.unwrap();
    assert_eq!(cleanup.deleted, ids(&taken));
}
