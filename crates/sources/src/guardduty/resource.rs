//! What a GuardDuty finding is about (`resource`) and the indicators its `service.action`
//! carries.

use crate::fields::node::Node;
use crate::fields::{self, Errors, Need};
use riposte_model::{Observables, Target};
use std::net::IpAddr;

/// Per resource type: the details object, whether it is a list (S3 gives one entry per
/// bucket), and the field naming the resource. Instances are handled apart.
const DETAILS: &[(&str, &str, bool, &str)] = &[
    ("AccessKey", "accessKeyDetails", false, "userName"),
    ("S3Bucket", "s3BucketDetails", true, "name"),
    ("S3Object", "s3BucketDetails", true, "name"),
    ("EKSCluster", "eksClusterDetails", false, "name"),
    ("ECSCluster", "ecsClusterDetails", false, "name"),
    ("Container", "containerDetails", false, "id"),
    ("Lambda", "lambdaDetails", false, "functionName"),
    (
        "RDSDBInstance",
        "rdsDbInstanceDetails",
        false,
        "dbInstanceIdentifier",
    ),
];

/// Fills `target` from `resource`: instance id, IPs, hostname and tags for instances;
/// `resource.type` and `resource.id` tags (plus the resource's own tags) otherwise.
pub(super) fn describe(errs: &mut Errors, r: &Node<'_>, target: &mut Target) {
    let Some(kind) = r.string(errs, "resourceType", Need::Optional) else {
        return;
    };
    if kind == "Instance" {
        instance(errs, r, target);
    } else if let Some(&(_, key, is_list, id_field)) = DETAILS.iter().find(|d| d.0 == kind) {
        let details = if is_list {
            r.first(errs, key)
        } else {
            r.child(errs, key, Need::Optional)
        };
        if let Some(details) = details {
            target.tags.extend(details.tags(errs, "tags"));
            if let Some(id) = details.string(errs, id_field, Need::Optional) {
                target.tags.insert("resource.id".to_string(), id);
            }
        }
    }
    // Ours go last so a resource tag that happens to be named `resource.type` cannot mask it.
    target.tags.insert("resource.type".to_string(), kind);
}

/// `instanceDetails`: id, tags, every private and public IP, and the private DNS name.
fn instance(errs: &mut Errors, r: &Node<'_>, target: &mut Target) {
    let why = Need::Required("mandatory for resourceType Instance");
    let Some(inst) = r.child(errs, "instanceDetails", why) else {
        return;
    };
    target.instance_id = inst.string(errs, "instanceId", Need::Optional);
    target.tags.extend(inst.tags(errs, "tags"));
    let mut ips: Vec<IpAddr> = Vec::new();
    for ni in inst.children(errs, "networkInterfaces") {
        ips.extend(ni.ip(errs, "privateIpAddress"));
        for p in ni.children(errs, "privateIpAddresses") {
            ips.extend(p.ip(errs, "privateIpAddress"));
        }
        ips.extend(ni.ip(errs, "publicIp"));
        for (path, v) in ni.list(errs, "ipv6Addresses") {
            let need = Need::Required("expected an IP address");
            ips.extend(fields::ip(errs, &path, Some(v), need));
        }
        let dns = ni.string(errs, "privateDnsName", Need::Optional);
        if target.hostname.is_none() {
            target.hostname = dns;
        }
    }
    for ip in ips {
        if !target.ips.contains(&ip) {
            target.ips.push(ip);
        }
    }
}

/// The principal involved: IAM user, Kubernetes user or database user.
pub(super) fn username(errs: &mut Errors, r: &Node<'_>) -> Option<String> {
    let opt = Need::Optional;
    // `describe` already reported problems in the access key of an AccessKey resource.
    let mut seen = Errors::default();
    let is_key = r.get("resourceType").1.and_then(|v| v.as_str()) == Some("AccessKey");
    let key_errs = if is_key { &mut seen } else { &mut *errs };
    let access_key = r
        .child(key_errs, "accessKeyDetails", opt)
        .and_then(|d| d.string(key_errs, "userName", opt));
    let kubernetes = r
        .child(errs, "kubernetesDetails", opt)
        .and_then(|k| k.child(errs, "kubernetesUserDetails", opt))
        .and_then(|u| u.string(errs, "username", opt));
    let database = r
        .child(errs, "rdsDbUserDetails", opt)
        .and_then(|u| u.string(errs, "user", opt));
    access_key.or(kubernetes).or(database)
}

/// The remote address of an action (`remoteIpDetails.ipAddressV4`, else `V6`).
fn remote_ip(errs: &mut Errors, action: &Node<'_>) -> Option<IpAddr> {
    address(errs, action, "remoteIpDetails")
}

/// `<key>.ipAddressV4`, else `<key>.ipAddressV6`.
fn address(errs: &mut Errors, action: &Node<'_>, key: &str) -> Option<IpAddr> {
    let details = action.child(errs, key, Need::Optional)?;
    let v4 = details.ip(errs, "ipAddressV4");
    let v6 = details.ip(errs, "ipAddressV6");
    v4.or(v6)
}

/// `<key>.port`.
fn port(errs: &mut Errors, action: &Node<'_>, key: &str) -> Option<u16> {
    action
        .child(errs, key, Need::Optional)
        .and_then(|p| p.port(errs, "port"))
}

/// Source and destination of `service.action`. Network connections follow
/// `connectionDirection` (anything but OUTBOUND puts the remote host at the source);
/// API calls, port probes and login attempts come from the remote host.
pub(super) fn observables(errs: &mut Errors, service: &Node<'_>) -> Observables {
    let opt = Need::Optional;
    let mut o = Observables::default();
    let Some(action) = service.child(errs, "action", opt) else {
        return o;
    };
    if let Some(nc) = action.child(errs, "networkConnectionAction", opt) {
        let remote = (remote_ip(errs, &nc), port(errs, &nc, "remotePortDetails"));
        let local = (
            address(errs, &nc, "localIpDetails"),
            port(errs, &nc, "localPortDetails"),
        );
        let direction = nc.string(errs, "connectionDirection", opt);
        let outbound = direction.is_some_and(|d| d.eq_ignore_ascii_case("OUTBOUND"));
        let (src, dst) = if outbound {
            (local, remote)
        } else {
            (remote, local)
        };
        (o.source_ip, o.source_port) = src;
        (o.destination_ip, o.destination_port) = dst;
    }
    if let Some(probe) = action.child(errs, "portProbeAction", opt)
        && let Some(first) = probe.first(errs, "portProbeDetails")
    {
        o.source_ip = o.source_ip.or(remote_ip(errs, &first));
        o.destination_ip = o.destination_ip.or(address(errs, &first, "localIpDetails"));
        o.destination_port = o
            .destination_port
            .or(port(errs, &first, "localPortDetails"));
    }
    for name in [
        "awsApiCallAction",
        "kubernetesApiCallAction",
        "rdsLoginAttemptAction",
    ] {
        if let Some(call) = action.child(errs, name, opt) {
            o.source_ip = o.source_ip.or(remote_ip(errs, &call));
        }
    }
    o
}
