//! Which addresses outbound requests may reach.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The outbound policy: public addresses only, plus an explicit allowlist.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Networks allowed even though they are not public (e.g. `10.0.5.0/24` for an internal SIEM).
    pub allow: Vec<IpNet>,
}

impl OutboundPolicy {
    /// True when a request may go to `ip`. An IPv6 address that embeds an IPv4 one
    /// (IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo) is judged as that IPv4
    /// address: only an IPv4 allow entry can open it, never an IPv6 one.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = normalize(ip);
        is_public(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }
}

impl OutboundPolicy {
    /// A DNS resolver for HTTP clients that answers only with addresses this policy
    /// permits: a name resolving to any other address fails, so a connection can only go
    /// where the check in the same resolution allowed (no DNS rebinding between a check
    /// and the connection). IP literals in URLs are not resolved: check them with
    /// [`OutboundPolicy::permits`] before use.
    pub fn resolver(&self) -> std::sync::Arc<dyn reqwest::dns::Resolve> {
        std::sync::Arc::new(GuardedResolver {
            policy: self.clone(),
        })
    }
}

/// See [`OutboundPolicy::resolver`].
#[derive(Debug)]
struct GuardedResolver {
    policy: OutboundPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !policy.permits(a.ip())) {
                let ip = bad.ip();
                let refused = format!(
                    "{host} resolves to {ip}, a non-public address; add it to the outbound allowlist (--outbound-allow {}) if this is intended",
                    allow_hint(ip)
                );
                tracing::warn!(%host, %ip, "outbound connection refused by the outbound policy");
                return Err(refused.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The `--outbound-allow` value that would let a request reach `ip`: the address alone
/// (`/32`, or `/128` for IPv6), written as the IPv4 address an IPv6 form embeds.
pub fn allow_hint(ip: IpAddr) -> String {
    match normalize(ip) {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

/// The IPv4 address an IPv6 address carries, if any: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`, deprecated but still routed by some stacks), 6to4
/// (`2002:AABB:CCDD::/48`), NAT64 (`64:ff9b::/96` and the local-use `64:ff9b:1::/48`) and
/// Teredo (`2001::/32`, the client's address inverted in the last 32 bits).
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = v6.segments();
    let tail = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if seg[..6].iter().all(|s| *s == 0) && (seg[6] != 0 || seg[7] > 1) {
        return Some(tail(seg[6], seg[7]));
    }
    match seg[0] {
        0x2002 => Some(tail(seg[1], seg[2])),
        0x0064 if seg[1] == 0xff9b && (seg[2..6].iter().all(|s| *s == 0) || seg[2] == 1) => {
            Some(tail(seg[6], seg[7]))
        }
        0x2001 if seg[1] == 0 => Some(tail(!seg[6], !seg[7])),
        _ => None,
    }
}

/// `ip`, with an IPv6 address that embeds an IPv4 one replaced by that IPv4 address.
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// True for globally routable unicast addresses; false for loopback, private (RFC 1918),
/// carrier-grade NAT, link-local (incl. the 169.254.169.254 metadata service), unique-local,
/// site-local, multicast, broadcast, documentation and unspecified addresses, and IPv6
/// forms that embed any of them (see [`embedded_ipv4`]).
pub fn is_public(ip: IpAddr) -> bool {
    match normalize(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || (seg[0] == 0x0100 && seg[1..4].iter().all(|s| *s == 0))
                || seg[0] == 0x0064)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_and_metadata_addresses_are_refused_by_default() {
        let p = OutboundPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!p.permits(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in ["8.8.8.8", "137.254.120.31", "2606:4700::1111"] {
            assert!(p.permits(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn the_allowlist_opens_exactly_its_networks() {
        let p = OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(p.permits("127.0.0.1".parse().unwrap()));
        assert!(!p.permits("127.0.0.2".parse().unwrap()));
        assert!(!p.permits("169.254.169.254".parse().unwrap()));
    }

    /// The tester's finding: `--outbound-allow ::1/32` (the old hint) opened the
    /// IPv4-mapped range. IPv6 entries never cover an embedded IPv4 address.
    #[test]
    fn ipv6_allow_entries_never_open_embedded_ipv4() {
        let p = OutboundPolicy {
            allow: vec!["::1/32".parse().unwrap(), "::1/128".parse().unwrap()],
        };
        assert!(p.permits("::1".parse().unwrap()));
        for ip in [
            "::ffff:169.254.169.254",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::169.254.169.254",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::7f00:1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "fec0::1",
            "100::1",
        ] {
            assert!(!p.permits(ip.parse().unwrap()), "{ip} must be refused");
        }
        // An IPv4 entry opens the address in every IPv6 form.
        let v4 = OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        };
        for ip in [
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "2002:7f00:1::",
        ] {
            assert!(v4.permits(ip.parse().unwrap()), "{ip} must be allowed");
        }
        // 6to4 of a public address stays public.
        assert!(p.permits("2002:0808:0808::1".parse().unwrap()));
    }

    #[test]
    fn the_hint_names_the_address_alone() {
        assert_eq!(allow_hint("::1".parse().unwrap()), "::1/128");
        assert_eq!(allow_hint("10.0.0.5".parse().unwrap()), "10.0.0.5/32");
        assert_eq!(
            allow_hint("::ffff:169.254.169.254".parse().unwrap()),
            "169.254.169.254/32"
        );
        assert_eq!(allow_hint("2002:7f00:1::".parse().unwrap()), "127.0.0.1/32");
    }

    /// A name resolving to an internal address is refused at connection time, whatever
    /// any earlier check saw.
    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        let strict = OutboundPolicy::default().resolver();
        let err = match strict.resolve("localhost".parse().unwrap()).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("localhost resolved under the strict policy"),
        };
        assert!(err.contains("non-public"), "{err}");
        let lab = OutboundPolicy {
            allow: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        }
        .resolver();
        let addrs: Vec<_> = match lab.resolve("localhost".parse().unwrap()).await {
            Ok(a) => a.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
