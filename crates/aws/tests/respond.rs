//! Response actions through the real AWS SDK against a real moto emulator (a private
//! `moto_server` per test): after each action the emulator's state is read back with the
//! SDK — instance stopped, deny-all policy on the role, only an empty group attached —
//! and release, dry run, idempotence and failures are checked the same way.

use riposte_aws::ReleaseError;
use riposte_aws::Responder;
use riposte_aws::respond::{ISOLATION_POLICY_NAME, deny_all_policy, isolation_group_name};
use riposte_aws::testing::{APP_POLICY_NAME, World, config};
use riposte_fakes::moto::{ACCESS_KEY_ID, MotoServer, SECRET_ACCESS_KEY};
use riposte_model::{ActionChange, ActionStatus, Ec2Target, ResponseAction};

const REGION: &str = "eu-west-1";

async fn start() -> (MotoServer, World, Responder) {
    let moto = MotoServer::start().await;
    let config = config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let world = World::create(&config).await;
    (moto, world, Responder::from_config(&config))
}

fn target(instance_id: &str) -> Ec2Target {
    Ec2Target::new(instance_id, REGION)
}

#[tokio::test]
async fn stop_instance_stops_it_once_and_release_starts_it_again() {
    let (_moto, world, responder) = start().await;
    let id = &world.instance_id;
    assert_eq!(world.instance_state(id).await, "running");

    let first = responder
        .execute(ResponseAction::StopInstance, &target(id), false)
        .await;
    assert_eq!(first.status, ActionStatus::Succeeded, "{first:?}");
    assert_eq!(
        first.change,
        Some(ActionChange::StopInstance {
            previous_state: "running".into(),
            stop_requested: true
        })
    );
    assert_eq!(world.instance_state(id).await, "stopped");

    // Running it again does not stack: nothing to stop, nothing to undo.
    let second = responder
        .execute(ResponseAction::StopInstance, &target(id), false)
        .await;
    assert_eq!(second.status, ActionStatus::Succeeded, "{second:?}");
    assert_eq!(
        second.change,
        Some(ActionChange::StopInstance {
            previous_state: "stopped".into(),
            stop_requested: false
        })
    );
    let note = responder.release(&second).await.unwrap();
    assert!(note.starts_with("nothing to undo"), "{note}");
    assert_eq!(world.instance_state(id).await, "stopped");

    let note = responder.release(&first).await.unwrap();
    assert!(note.contains("started"), "{note}");
    assert_eq!(world.instance_state(id).await, "running");
}

#[tokio::test]
async fn isolate_role_puts_a_deny_all_policy_once_and_release_deletes_only_it() {
    let (_moto, world, responder) = start().await;
    let id = &world.instance_id;
    assert_eq!(
        world.role_policy_names().await,
        vec![APP_POLICY_NAME.to_string()]
    );

    let first = responder
        .execute(ResponseAction::IsolateRole, &target(id), false)
        .await;
    assert_eq!(first.status, ActionStatus::Succeeded, "{first:?}");
    match &first.change {
        Some(ActionChange::IsolateRole {
            role_name,
            policy_name,
            policy_added,
            instance_profile_arn,
        }) => {
            assert_eq!(role_name, &world.role_name);
            assert_eq!(policy_name, ISOLATION_POLICY_NAME);
            assert!(policy_added);
            assert!(
                instance_profile_arn.ends_with(":instance-profile/riposte-test/app-server-profile")
            );
        }
        other => panic!("{other:?}"),
    }
    let policy = world
        .role_policy(ISOLATION_POLICY_NAME)
        .await
        .expect("deny policy on the role");
    assert_eq!(policy, deny_all_policy());
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    assert_eq!(policy["Statement"][0]["Action"], "*");

    let second = responder
        .execute(ResponseAction::IsolateRole, &target(id), false)
        .await;
    assert_eq!(second.status, ActionStatus::Succeeded);
    assert!(matches!(
        second.change,
        Some(ActionChange::IsolateRole {
            policy_added: false,
            ..
        })
    ));
    assert_eq!(
        world.role_policy_names().await.len(),
        2,
        "one isolation policy, not two"
    );

    responder.release(&first).await.unwrap();
    assert_eq!(world.role_policy(ISOLATION_POLICY_NAME).await, None);
    assert_eq!(
        world.role_policy_names().await,
        vec![APP_POLICY_NAME.to_string()]
    );
}

#[tokio::test]
async fn isolate_role_of_an_instance_without_profile_fails_without_change() {
    let (_moto, world, responder) = start().await;
    let record = responder
        .execute(
            ResponseAction::IsolateRole,
            &target(&world.bare_instance_id),
            false,
        )
        .await;
    assert_eq!(record.status, ActionStatus::Failed);
    let error = record.error.expect("error recorded");
    assert_eq!(error.code, None);
    assert!(
        error.message.contains("no instance profile"),
        "{}",
        error.message
    );
    assert_eq!(world.role_policy(ISOLATION_POLICY_NAME).await, None);
}

#[tokio::test]
async fn isolate_security_group_leaves_only_an_empty_group_and_release_restores() {
    let (_moto, world, responder) = start().await;
    let id = &world.instance_id;
    let original = world.sorted_group_ids();
    assert_eq!(world.instance_group_ids(id).await, original);

    let first = responder
        .execute(ResponseAction::IsolateSecurityGroup, &target(id), false)
        .await;
    assert_eq!(first.status, ActionStatus::Succeeded, "{first:?}");
    let Some(ActionChange::IsolateSecurityGroup {
        isolation_group_id: Some(group_id),
        original_group_ids,
        vpc_id,
        groups_replaced: true,
        ..
    }) = &first.change
    else {
        panic!("{first:?}");
    };
    assert_eq!(original_group_ids, &world.group_ids);
    assert_eq!(vpc_id, &world.vpc_id);
    assert_eq!(world.instance_group_ids(id).await, vec![group_id.clone()]);
    let group = world
        .security_group(group_id)
        .await
        .expect("isolation group exists");
    assert_eq!(group.group_name(), Some(isolation_group_name(id).as_str()));
    assert_eq!(group.vpc_id(), Some(world.vpc_id.as_str()));
    assert!(
        group.ip_permissions().is_empty(),
        "no inbound rules: {group:?}"
    );
    assert!(
        group.ip_permissions_egress().is_empty(),
        "default egress revoked: {group:?}"
    );

    let second = responder
        .execute(ResponseAction::IsolateSecurityGroup, &target(id), false)
        .await;
    assert_eq!(second.status, ActionStatus::Succeeded, "{second:?}");
    assert!(matches!(
        second.change,
        Some(ActionChange::IsolateSecurityGroup {
            groups_replaced: false,
            ..
        })
    ));
    assert_eq!(
        world.groups_named("riposte-isolation-").await.len(),
        1,
        "no second group"
    );
    assert_eq!(world.instance_group_ids(id).await, vec![group_id.clone()]);

    let note = responder.release(&first).await.unwrap();
    assert!(note.contains("deleted isolation group"), "{note}");
    assert_eq!(world.instance_group_ids(id).await, original);
    assert!(
        world.security_group(group_id).await.is_none(),
        "isolation group deleted"
    );
}

#[tokio::test]
async fn dry_runs_change_nothing_and_cannot_be_released() {
    let (_moto, world, responder) = start().await;
    let id = &world.instance_id;
    for action in [
        ResponseAction::StopInstance,
        ResponseAction::IsolateRole,
        ResponseAction::IsolateSecurityGroup,
    ] {
        let record = responder.execute(action, &target(id), true).await;
        assert_eq!(record.status, ActionStatus::DryRun, "{record:?}");
        assert!(record.dry_run);
        assert!(
            record.summary.starts_with("dry run: would"),
            "{}",
            record.summary
        );
        assert!(record.change.is_some());
        assert!(matches!(
            responder.release(&record).await,
            Err(ReleaseError::NotReleasable {
                status: ActionStatus::DryRun,
                ..
            })
        ));
    }
    assert_eq!(world.instance_state(id).await, "running");
    assert_eq!(world.role_policy(ISOLATION_POLICY_NAME).await, None);
    assert_eq!(world.instance_group_ids(id).await, world.sorted_group_ids());
    assert!(world.groups_named("riposte-isolation-").await.is_empty());
}

#[tokio::test]
async fn a_missing_instance_is_a_recorded_failure_with_the_aws_code() {
    let (_moto, _world, responder) = start().await;
    for action in [
        ResponseAction::StopInstance,
        ResponseAction::IsolateRole,
        ResponseAction::IsolateSecurityGroup,
    ] {
        for dry_run in [false, true] {
            let record = responder
                .execute(action, &target("i-0123456789abcdef0"), dry_run)
                .await;
            assert_eq!(record.status, ActionStatus::Failed, "{record:?}");
            let error = record.error.as_ref().expect("error recorded");
            assert_eq!(
                error.code.as_deref(),
                Some("InvalidInstanceID.NotFound"),
                "{error}"
            );
            assert!(error.message.contains("i-0123456789abcdef0"), "{error}");
            assert!(matches!(
                responder.release(&record).await,
                Err(ReleaseError::NotReleasable {
                    status: ActionStatus::Failed,
                    ..
                })
            ));
        }
    }
}

#[tokio::test]
async fn contain_host_is_not_an_aws_action() {
    let (_moto, world, responder) = start().await;
    let record = responder
        .execute(
            ResponseAction::ContainHost,
            &target(&world.instance_id),
            false,
        )
        .await;
    assert_eq!(record.status, ActionStatus::Failed);
    assert!(record.error.unwrap().message.contains("XDR"));
    assert_eq!(world.instance_state(&world.instance_id).await, "running");
}

/// Requests `World::create` makes before the users below (moto counts them).
const WORLD_SETUP_REQUESTS: usize = 10;
/// CreateUser, PutUserPolicy and CreateAccessKey for each of the two users.
const USER_SETUP_REQUESTS: usize = 6;

/// A user with `actions` allowed on everything; returns an SDK configuration with its keys.
async fn user_config(
    moto: &MotoServer,
    world: &World,
    name: &str,
    actions: &[&str],
) -> aws_config::SdkConfig {
    riposte_aws::testing::iam_user(&world.iam, &moto.url(), REGION, name, actions).await
}

#[tokio::test]
async fn a_missing_permission_is_a_recorded_failure_that_changes_nothing() {
    // moto enforces IAM policies once the setup requests are done.
    let count = (WORLD_SETUP_REQUESTS + USER_SETUP_REQUESTS).to_string();
    let moto = MotoServer::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", &count)]).await;
    let root = config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let mut world = World::create(&root).await;
    let admin = user_config(&moto, &world, "admin", &["*"]).await;
    let reader = user_config(
        &moto,
        &world,
        "reader",
        &[
            "ec2:Describe*",
            "iam:GetInstanceProfile",
            "iam:GetRolePolicy",
        ],
    )
    .await;
    world.ec2 = aws_sdk_ec2::Client::new(&admin);
    world.iam = aws_sdk_iam::Client::new(&admin);
    let responder = Responder::from_config(&reader);
    let id = &world.instance_id;

    for (action, operation) in [
        (ResponseAction::StopInstance, "StopInstances"),
        (ResponseAction::IsolateSecurityGroup, "CreateSecurityGroup"),
    ] {
        for dry_run in [true, false] {
            let record = responder.execute(action, &target(id), dry_run).await;
            assert_eq!(record.status, ActionStatus::Failed, "{record:?}");
            let error = record.error.as_ref().unwrap();
            // Real EC2 says UnauthorizedOperation; moto says AccessDenied.
            assert_eq!(error.code.as_deref(), Some("AccessDenied"), "{error}");
            assert!(error.message.starts_with(operation), "{error}");
        }
    }
    // moto renders IAM's AccessDenied in EC2's error layout (<Errors><Error>), which the IAM
    // SDK cannot read: the record keeps the operation and the HTTP status instead.
    let record = responder
        .execute(ResponseAction::IsolateRole, &target(id), false)
        .await;
    assert_eq!(record.status, ActionStatus::Failed, "{record:?}");
    let error = record.error.as_ref().unwrap();
    assert!(
        error.message.starts_with("PutRolePolicy: HTTP 403"),
        "{error}"
    );
    assert_eq!(world.instance_state(id).await, "running");
    assert_eq!(world.role_policy(ISOLATION_POLICY_NAME).await, None);
    assert_eq!(world.instance_group_ids(id).await, world.sorted_group_ids());
    assert!(world.groups_named("riposte-isolation-").await.is_empty());
}
