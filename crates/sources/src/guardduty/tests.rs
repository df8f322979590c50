use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A trimmed camelCase finding as EventBridge carries it.
fn camel() -> Value {
    json!({
        "accountId": "123456789012", "region": "us-east-1", "id": "f1",
        "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 2,
        "createdAt": "2018-08-26T14:17:23.000Z", "updatedAt": "2018-08-27T10:00:00.000Z",
        "title": "t", "description": "d",
        "resource": {"resourceType": "Instance", "instanceDetails": {
            "instanceId": "i-081de1d7604b11e4a",
            "tags": [{"key": "env", "value": "prod"}],
            "networkInterfaces": [{
                "privateDnsName": "ip-172-31-81-237.ec2.internal",
                "privateIpAddress": "172.31.81.237",
                "privateIpAddresses": [{"privateIpAddress": "172.31.81.237"}, {"privateIpAddress": "172.31.81.238"}],
                "publicIp": "54.152.215.140"}]}},
        "service": {"action": {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
            "connectionDirection": "INBOUND",
            "remoteIpDetails": {"ipAddressV4": "151.80.19.228"},
            "remotePortDetails": {"port": 32938}, "localPortDetails": {"port": 22}}}}
    })
}

/// The same finding as the GetFindings API returns it (PascalCase).
fn pascal() -> Value {
    json!({
        "AccountId": "123456789012", "Region": "us-east-1", "Id": "f1",
        "Type": "UnauthorizedAccess:EC2/SSHBruteForce", "Severity": 2.0,
        "CreatedAt": "2018-08-26T14:17:23.000Z", "UpdatedAt": "2018-08-27T10:00:00.000Z",
        "Title": "t", "Description": "d",
        "Resource": {"ResourceType": "Instance", "InstanceDetails": {
            "InstanceId": "i-081de1d7604b11e4a",
            "Tags": [{"Key": "env", "Value": "prod"}],
            "NetworkInterfaces": [{
                "PrivateDnsName": "ip-172-31-81-237.ec2.internal",
                "PrivateIpAddress": "172.31.81.237",
                "PrivateIpAddresses": [{"PrivateIpAddress": "172.31.81.237"}, {"PrivateIpAddress": "172.31.81.238"}],
                "PublicIp": "54.152.215.140"}]}},
        "Service": {"Action": {"ActionType": "NETWORK_CONNECTION", "NetworkConnectionAction": {
            "ConnectionDirection": "INBOUND",
            "RemoteIpDetails": {"IpAddressV4": "151.80.19.228"},
            "RemotePortDetails": {"Port": 32938}, "LocalPortDetails": {"Port": 22}}}}
    })
}

fn one(payload: &Value) -> Alert {
    let mut alerts = GuardDutyParser.parse(payload, now()).unwrap();
    assert_eq!(alerts.len(), 1);
    alerts.remove(0)
}

fn problems(payload: &Value) -> Vec<String> {
    let err = GuardDutyParser.parse(payload, now()).unwrap_err();
    err.field_errors().iter().map(|e| e.to_string()).collect()
}

#[test]
fn camel_and_pascal_findings_map_alike() {
    for payload in [camel(), pascal()] {
        let a = one(&payload);
        assert_eq!(a.vendor, "Amazon Web Services");
        assert_eq!(a.product, "GuardDuty");
        assert_eq!(a.vendor_event_id.as_deref(), Some("f1"));
        assert_eq!(a.finding_type, "UnauthorizedAccess:EC2/SSHBruteForce");
        assert_eq!(a.severity, Severity::Low);
        assert_eq!(a.time.to_rfc3339(), "2018-08-27T10:00:00+00:00");
        let t = &a.target;
        assert_eq!(t.instance_id.as_deref(), Some("i-081de1d7604b11e4a"));
        assert_eq!(t.hostname.as_deref(), Some("ip-172-31-81-237.ec2.internal"));
        assert_eq!(t.cloud_provider.as_deref(), Some("aws"));
        assert_eq!(t.account_id.as_deref(), Some("123456789012"));
        assert_eq!(t.region.as_deref(), Some("us-east-1"));
        let ips: Vec<String> = t.ips.iter().map(|ip| ip.to_string()).collect();
        assert_eq!(ips, ["172.31.81.237", "172.31.81.238", "54.152.215.140"]);
        assert_eq!(t.tags["env"], "prod");
        assert_eq!(t.tags["resource.type"], "Instance");
        // Inbound: the remote host is the source, the instance's port the destination.
        let o = &a.observables;
        assert_eq!(o.source_ip, Some("151.80.19.228".parse().unwrap()));
        assert_eq!((o.source_port, o.destination_port), (Some(32938), Some(22)));
        assert_eq!(a.raw, payload);
    }
}

#[test]
fn outbound_connections_put_the_remote_host_at_the_destination() {
    let mut p = camel();
    let nc = &mut p["service"]["action"]["networkConnectionAction"];
    nc["connectionDirection"] = json!("OUTBOUND");
    nc["localIpDetails"] = json!({"ipAddressV4": "10.0.0.23"});
    let o = one(&p).observables;
    assert_eq!(o.source_ip, Some("10.0.0.23".parse().unwrap()));
    assert_eq!(o.destination_ip, Some("151.80.19.228".parse().unwrap()));
    assert_eq!((o.source_port, o.destination_port), (Some(22), Some(32938)));
}

#[test]
fn severity_follows_guardduty_bands() {
    let cases = [
        (1.0, Some(Severity::Low)),
        (3.9, Some(Severity::Low)),
        (4.0, Some(Severity::Medium)),
        (6.9, Some(Severity::Medium)),
        (7.0, Some(Severity::High)),
        (8.9, Some(Severity::High)),
        (9.0, Some(Severity::Critical)),
        (10.0, Some(Severity::Critical)),
        (0.5, None),
        (10.1, None),
    ];
    for (score, expected) in cases {
        assert_eq!(level(score), expected, "{score}");
    }
    let mut p = camel();
    p["severity"] = json!(0);
    assert_eq!(
        problems(&p),
        ["severity: 0 is outside GuardDuty's 1.0–10.0 scale"]
    );
    p["severity"] = json!("HIGH");
    assert_eq!(
        problems(&p),
        ["severity: must be a number from 1.0 to 10.0, got a string"]
    );
}

#[test]
fn missing_mandatory_fields_are_all_reported_with_paths() {
    let event = json!({"detail-type": "GuardDuty Finding", "detail": {"title": "x"}});
    assert_eq!(
        problems(&event),
        [
            "detail.id: missing (mandatory)",
            "detail.type: missing (mandatory)",
            "detail.severity: missing (mandatory; a number from 1.0 to 10.0)",
            "detail.updatedAt: missing (mandatory: give updatedAt or createdAt)",
        ]
    );
}

#[test]
fn eventbridge_time_is_the_fallback_and_other_detail_types_are_refused() {
    let mut f = camel();
    f.as_object_mut().unwrap().remove("updatedAt");
    f.as_object_mut().unwrap().remove("createdAt");
    let event =
        json!({"detail-type": "GuardDuty Finding", "time": "2021-03-07T00:30:34Z", "detail": f});
    assert_eq!(one(&event).time.to_rfc3339(), "2021-03-07T00:30:34+00:00");
    let other = json!({"detail-type": "AWS API Call via CloudTrail", "detail": camel()});
    assert_eq!(
        problems(&other),
        [
            "detail-type: \"AWS API Call via CloudTrail\" is not a GuardDuty finding event; \
             expected \"GuardDuty Finding\""
        ]
    );
}

#[test]
fn sns_envelopes_carry_the_event_as_a_string() {
    let event = json!({"detail-type": "GuardDuty Finding", "detail": camel()});
    let sns = json!({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                     "Message": event.to_string()});
    let a = one(&sns);
    assert_eq!(a.vendor_event_id.as_deref(), Some("f1"));
    assert_eq!(a.raw, sns);
    let bad = json!({"Type": "Notification", "Message": "{not json"});
    let p = problems(&bad);
    assert!(p[0].starts_with("Message: is not JSON"), "{p:?}");
    let nested = json!({"Type": "Notification", "Message": json!({"detail-type": "GuardDuty Finding", "detail": {}}).to_string()});
    assert!(problems(&nested).contains(&"Message.detail.id: missing (mandatory)".to_string()));
}

#[test]
fn lists_yield_one_alert_per_finding_and_name_the_bad_one() {
    let mut second = pascal();
    second["Id"] = json!("f2");
    let list = json!({"Findings": [camel(), second]});
    let alerts = GuardDutyParser.parse(&list, now()).unwrap();
    let ids: Vec<_> = alerts.iter().map(|a| a.vendor_event_id.clone()).collect();
    assert_eq!(ids, [Some("f1".to_string()), Some("f2".to_string())]);
    assert_eq!(alerts[1].raw["Id"], "f2");
    let bad = json!({"findings": [camel(), {"id": "x", "type": "t", "severity": 5, "createdAt": "nope"}, 3]});
    let p = problems(&bad);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].starts_with("findings[1].createdAt: \"nope\" is not an RFC 3339"));
    assert_eq!(p[1], "findings[2]: must be a finding object, got a number");
    assert!(
        GuardDutyParser
            .parse(&json!({"findings": []}), now())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        problems(&json!({"findings": {}})),
        ["findings: must be an array of findings, got an object"]
    );
}

#[test]
fn non_instance_resources_go_to_resource_tags() {
    let mut p = camel();
    p["resource"] = json!({"resourceType": "S3Bucket",
        "accessKeyDetails": {"userName": "alice"},
        "s3BucketDetails": [{"name": "my-bucket", "tags": [{"key": "foo", "value": "bar"}]}],
        "instanceDetails": {"instanceId": "i-99999999"}});
    let a = one(&p);
    let t = &a.target;
    assert_eq!(t.instance_id, None);
    assert_eq!(t.hostname, None);
    assert_eq!(t.tags["resource.type"], "S3Bucket");
    assert_eq!(t.tags["resource.id"], "my-bucket");
    assert_eq!(t.tags["foo"], "bar");
    assert_eq!(a.observables.username.as_deref(), Some("alice"));
    p["resource"] = json!({"resourceType": "Lambda", "lambdaDetails": {"functionName": "fn"}});
    assert_eq!(one(&p).target.tags["resource.id"], "fn");
}

#[test]
fn malformed_nested_values_are_reported_with_their_path() {
    let mut p = camel();
    let ni = &mut p["resource"]["instanceDetails"]["networkInterfaces"][0];
    ni["publicIp"] = json!("999.1.1.1");
    ni["privateIpAddresses"] = json!("10.0.0.1");
    p["resource"]["instanceDetails"]["tags"][0]["key"] = json!(7);
    p["service"]["action"]["networkConnectionAction"]["localPortDetails"]["port"] = json!(70000);
    assert_eq!(
        problems(&p),
        [
            "resource.instanceDetails.tags[0].key: must be a string, got a number",
            "resource.instanceDetails.networkInterfaces[0].privateIpAddresses: must be an array, got a string",
            "resource.instanceDetails.networkInterfaces[0].publicIp: \"999.1.1.1\" is not an IPv4 or IPv6 address",
            "service.action.networkConnectionAction.localPortDetails.port: port 70000 is out of range (0–65535)",
        ]
    );
}

#[test]
fn a_bad_access_key_is_reported_once() {
    let mut p = camel();
    p["resource"] = json!({"resourceType": "AccessKey", "accessKeyDetails": {"userName": 5}});
    assert_eq!(
        problems(&p),
        ["resource.accessKeyDetails.userName: must be a string, got a number"]
    );
}
