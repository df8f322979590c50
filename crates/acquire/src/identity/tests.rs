use super::*;

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn hostname_file_takes_the_first_word_and_skips_comments() {
    assert_eq!(
        parse_hostname("# set by cloud-init\n\n web01 \n").as_deref(),
        Some("web01")
    );
    assert_eq!(parse_hostname("\n#only\n"), None);
}

#[test]
fn sysconfig_network_hostname() {
    let text = "NETWORKING=yes\nHOSTNAME=\"db01.corp.local\"\n";
    assert_eq!(
        parse_sysconfig_hostname(text).as_deref(),
        Some("db01.corp.local")
    );
}

#[test]
fn hosts_lines_with_comments_and_ipv6() {
    let text = "127.0.0.1 localhost\n127.0.1.1\tweb01.corp.local web01 # debian\n\
                ::1 localhost ip6-localhost\n# 10.9.9.9 old\nnot-an-ip name\n10.0.0.9 db01\n";
    let hosts = parse_hosts(text);
    assert_eq!(hosts.len(), 4);
    assert_eq!(hosts[1].0, DEBIAN_HOSTNAME_IP);
    assert_eq!(hosts[1].1, ["web01.corp.local", "web01"]);
    assert_eq!(
        hosts[3],
        ("10.0.0.9".parse().unwrap(), vec!["db01".to_string()])
    );
}

#[test]
fn netplan_inline_and_block_lists_skip_nameservers() {
    let text = r#"
# This file is generated from information provided by the datasource.
network:
  version: 2
  ethernets:
    ens3:
      addresses: [10.0.0.5/24, "fd00::5/64"]
      routes:
        - to: default
          via: 10.0.0.1
      nameservers:
        addresses: [8.8.8.8, 1.1.1.1]
    ens4:
      dhcp4: false
      addresses:
        - 192.168.1.20/24
        - "2001:db8::20/64":
            lifetime: 0
      nameservers:
        search: [corp.local]
        addresses:
          - 9.9.9.9
  bonds:
    bond0:
      addresses:
      - 172.16.0.4/16
      interfaces: [ens5, ens6]
"#;
    assert_eq!(
        parse_netplan(text),
        ips(&[
            "10.0.0.5",
            "fd00::5",
            "192.168.1.20",
            "2001:db8::20",
            "172.16.0.4"
        ])
    );
    assert!(parse_netplan("network: {version: 2}\n:::\n- - -\n").is_empty());
}

#[test]
fn ifcfg_addresses() {
    let text = "DEVICE=eth0\nBOOTPROTO=none\nIPADDR=\"10.0.0.5\"\nPREFIX=24\nIPADDR1=10.0.1.5\n\
                IPADDR_OLD=1.2.3.4\nGATEWAY=10.0.0.1\nIPV6ADDR=fd00::5/64\n\
                IPV6ADDR_SECONDARIES=\"fd00::6/64 fd00::7/64\"\n# IPADDR=10.0.0.99\n";
    assert_eq!(
        parse_ifcfg(text),
        ips(&["10.0.0.5", "10.0.1.5", "fd00::5", "fd00::6", "fd00::7"])
    );
}

#[test]
fn networkmanager_keyfile_addresses() {
    let text = "[ipv4]\naddress1=10.0.0.5/24,10.0.0.1\nmethod=manual\ndns=8.8.8.8;\n[ipv6]\naddress1=fd00::5/64\n";
    assert_eq!(parse_keyfile(text), ips(&["10.0.0.5", "fd00::5"]));
}

#[test]
fn debian_interfaces_addresses() {
    let text = "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n    address 10.0.0.5\n\
                netmask 255.255.255.0\n    gateway 10.0.0.1\niface eth1 inet static\n  address 10.0.2.5/24 # dmz\n";
    assert_eq!(parse_interfaces(text), ips(&["10.0.0.5", "10.0.2.5"]));
}

#[test]
fn hostnames_match_short_and_fqdn_both_ways() {
    assert!(hostname_matches("WEB01", "web01"));
    assert!(hostname_matches("web01", "web01.corp.local"));
    assert!(hostname_matches("web01.corp.local.", "web01"));
    assert!(hostname_matches("web01.corp.local", "WEB01.corp.local"));
    assert!(!hostname_matches("web01.a.local", "web01.b.local"));
    assert!(!hostname_matches("web0", "web01"));
    assert!(!hostname_matches("", "web01"));
    assert!(!hostname_matches("web01", "web01-db"));
}

#[test]
fn names_are_validated_and_deduplicated() {
    let mut names = Vec::new();
    for n in [
        "Web01",
        "web01",
        "localhost",
        "10.0.0.5",
        "bad name",
        "",
        "x/y",
        "web01.corp.local.",
    ] {
        push_name(&mut names, n);
    }
    assert_eq!(names, ["web01", "web01.corp.local"]);
    let mut list = Vec::new();
    for ip in ips(&[
        "127.0.0.1",
        "0.0.0.0",
        "::1",
        "ff02::1",
        "::ffff:10.0.0.5",
        "10.0.0.5",
    ]) {
        push_ip(&mut list, ip);
    }
    assert_eq!(list, ips(&["10.0.0.5"]));
}
