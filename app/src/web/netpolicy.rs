//! Which addresses a URL fetch may reach: public unicast only. Every address a host
//! name resolves to is checked, and one refused address refuses the host; names
//! are resolved through an injected [`Resolve`] so tests run offline.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The future a [`Resolve`] answers with.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Turns a host name into addresses.
pub trait Resolve: Send + Sync {
    /// Every address of `host` (a name, or an IP literal without brackets).
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a>;
}

/// The operating system's resolver (`getaddrinfo` through tokio).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move {
            if let Ok(ip) = host.parse::<IpAddr>() {
                return Ok(vec![ip]);
            }
            Ok(tokio::net::lookup_host((host, port))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A fixed table of names (and IP literals, which resolve to themselves); any other
/// name does not resolve. Used by tests (`serve --fetch-resolve HOST=IP`), so that
/// nothing asks a DNS server.
pub struct StaticResolver(pub HashMap<String, Vec<IpAddr>>);

impl StaticResolver {
    /// From `HOST=IP[,IP...]` entries.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut map = HashMap::new();
        for e in entries {
            let (host, ips) = e
                .split_once('=')
                .ok_or_else(|| format!("--fetch-resolve {e:?}: expected HOST=IP[,IP...]"))?;
            let ips = ips
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse::<IpAddr>()
                        .map_err(|_| format!("--fetch-resolve {e:?}: {s:?} is not an IP address"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            map.insert(host.trim().to_ascii_lowercase(), ips);
        }
        Ok(StaticResolver(map))
    }
}

impl Resolve for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Resolving<'a> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let found = match host.parse::<IpAddr>() {
            Ok(ip) => Ok(vec![ip]),
            Err(_) => self.0.get(&host).cloned().ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no such host (not in the table)")
            }),
        };
        Box::pin(async move { found })
    }
}

/// The fetch policy: the resolver and the addresses allowed although not public
/// (empty outside tests: `serve --fetch-allow-address`, a hidden test option).
#[derive(Clone)]
pub struct Policy {
    pub resolver: Arc<dyn Resolve>,
    pub allow: Vec<IpAddr>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("allow", &self.allow)
            .finish_non_exhaustive()
    }
}

/// Longest wait for a name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

impl Policy {
    /// The system resolver, nothing allowed beyond public addresses.
    pub fn system() -> Self {
        Policy {
            resolver: Arc::new(SystemResolver),
            allow: Vec::new(),
        }
    }

    /// Why `ip` may not be fetched from, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow.contains(&ip) {
            return None;
        }
        refusal(ip)
    }

    /// Resolve `host` and check every address: the addresses to connect to, or a
    /// message saying why not (unresolvable, or which address is refused and why).
    pub async fn check(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ips =
            match tokio::time::timeout(RESOLVE_TIMEOUT, self.resolver.resolve(host, port)).await {
                Ok(Ok(ips)) => ips,
                Ok(Err(e)) => return Err(format!("the host {host} cannot be resolved ({e})")),
                Err(_) => {
                    return Err(format!(
                        "the host {host} cannot be resolved (no answer within {} s)",
                        RESOLVE_TIMEOUT.as_secs()
                    ))
                }
            };
        if ips.is_empty() {
            return Err(format!("the host {host} cannot be resolved (no addresses)"));
        }
        for &ip in &ips {
            if let Some(why) = self.refusal(ip) {
                return Err(format!(
                    "the host {host} resolves to {ip}, {why}: this server only fetches \
                     from public internet addresses"
                ));
            }
        }
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

/// Why `ip` is not a public unicast address, or `None` when it is one.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const NETS: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a carrier-grade NAT address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "a reserved (IETF protocol) address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 31, 196, 0], 24, "a reserved (AS112) address"),
        ([192, 52, 193, 0], 24, "a reserved (AMT) address"),
        ([192, 88, 99, 0], 24, "a reserved (6to4 relay) address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([192, 175, 48, 0], 24, "a reserved (AS112) address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    NETS.iter()
        .find(|(net, bits, _)| in_v4(ip, *net, *bits))
        .map(|(_, _, why)| *why)
}

fn in_v6(ip: Ipv6Addr, net: u128, bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    u128::from(ip) & mask == net & mask
}

fn v4_at(ip: Ipv6Addr, shift: u32) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) >> shift) as u32)
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let x = u128::from(ip);
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // Forms that carry an IPv4 address: judged by that address.
    // ::ffff:a.b.c.d (IPv4-mapped), ::a.b.c.d (IPv4-compatible, deprecated),
    // ::ffff:0:a.b.c.d (IPv4-translated, SIIT), 64:ff9b::a.b.c.d (NAT64
    // well-known prefix): the last 32 bits. 2002:aabb:ccdd:: (6to4): bits 16-47.
    const LAST_32: &[u128] = &[0xffff_0000_0000, 0, 0xffff << 48, 0x0064_ff9b << 96];
    let embedded = if LAST_32.iter().any(|&net| in_v6(ip, net, 96)) {
        Some(v4_at(ip, 0))
    } else if in_v6(ip, 0x2002 << 112, 16) {
        Some(v4_at(ip, 80))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return refusal_v4(v4).map(|_| "an IPv6 form of a non-public IPv4 address");
    }
    if in_v6(ip, 0x2001 << 112, 32) {
        // Teredo: the server's IPv4 address, and the client's, obfuscated.
        let server = v4_at(ip, 64);
        let client = Ipv4Addr::from(!(x as u32));
        if refusal_v4(server).is_some() || refusal_v4(client).is_some() {
            return Some("a Teredo address of a non-public IPv4 address");
        }
        return None;
    }
    const NETS: &[(u128, u32, &str)] = &[
        (0x0064_ff9b_0001 << 80, 48, "a local-use NAT64 address"),
        (0x0100 << 112, 64, "a discard-only address"),
        (0x2001_0db8 << 96, 32, "a documentation address"),
        (0x2001 << 112, 23, "a reserved (IETF protocol) address"),
        (0x3fff << 112, 20, "a documentation address"),
        (0x5f00 << 112, 16, "a reserved (SRv6) address"),
        (0xfc00 << 112, 7, "a unique local (private) address"),
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a site-local address"),
        (0xff00 << 112, 8, "a multicast address"),
    ];
    if let Some((_, _, why)) = NETS.iter().find(|(n, b, _)| in_v6(ip, *n, *b)) {
        return Some(why);
    }
    // Global unicast is 2000::/3; everything else is unassigned or special.
    if !in_v6(ip, 0x2000 << 112, 3) {
        return Some("a reserved address");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_passes() {
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "198.17.255.255",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            // Teredo with public server 65.54.227.120 and client 1.2.3.4 (~ = fefd:fcfb).
            "2001:0:4136:e378:8000:63bf:fefd:fcfb",
        ] {
            assert_eq!(refusal(ip(public)), None, "{public}");
        }
        for (refused, says) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.1", "carrier-grade"),
            ("100.127.255.254", "carrier-grade"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "reserved"),
            ("192.0.2.1", "documentation"),
            ("192.88.99.1", "reserved"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "IPv4"),
            ("::ffff:10.1.2.3", "IPv4"),
            ("::ffff:169.254.169.254", "IPv4"),
            ("::127.0.0.1", "IPv4"),
            ("::ffff:0:192.168.0.1", "IPv4"),
            ("64:ff9b::7f00:1", "IPv4"),
            ("64:ff9b::a00:1", "IPv4"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("2002:7f00:1::", "IPv4"),
            ("2002:c0a8:101::1", "IPv4"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"), // client 192.0.2.45
            ("2001:0:a00:1::1", "Teredo"),                      // server 10.0.0.1
            ("100::1", "discard"),
            ("2001:db8::1", "documentation"),
            ("2001:2::1", "reserved"),
            ("2001:10::1", "reserved"),
            ("3fff::1", "documentation"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("4000::1", "reserved"),
            ("1000::1", "reserved"),
        ] {
            let why = refusal(ip(refused)).unwrap_or_else(|| panic!("{refused} passed"));
            assert!(why.contains(says), "{refused}: {why}");
        }
    }

    #[tokio::test]
    async fn every_resolved_address_is_checked() {
        let r = StaticResolver::parse(&[
            "public.test=93.184.215.14".into(),
            "inside.test=10.0.0.7".into(),
            "mixed.test=93.184.215.14,127.0.0.1".into(),
            "v6.test=fd00::5".into(),
        ])
        .unwrap();
        let p = Policy {
            resolver: Arc::new(r),
            allow: Vec::new(),
        };
        assert_eq!(
            p.check("public.test", 443).await.unwrap(),
            vec!["93.184.215.14:443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            p.check("PUBLIC.test.", 80).await.unwrap()[0].port(),
            80,
            "names are case-insensitive, a final dot is the same name"
        );
        for (host, says) in [
            ("inside.test", "10.0.0.7, a private address"),
            ("mixed.test", "127.0.0.1, a loopback address"),
            ("v6.test", "unique local"),
            ("[::1]", "loopback"),
            ("169.254.169.254", "link-local"),
            ("nowhere.test", "cannot be resolved"),
        ] {
            let e = p.check(host, 80).await.unwrap_err();
            assert!(e.contains(says), "{host}: {e}");
        }
        // The test-only allowlist lets exactly the listed address through.
        let p = Policy {
            allow: vec![ip("127.0.0.1")],
            ..p
        };
        assert!(p.check("127.0.0.1", 80).await.is_ok());
        assert!(p.check("127.0.0.2", 80).await.is_err());
        assert!(p.check("mixed.test", 80).await.is_ok());
        assert!(StaticResolver::parse(&["x".into()]).is_err());
        assert!(StaticResolver::parse(&["x=1.2.3".into()]).is_err());
    }
}
