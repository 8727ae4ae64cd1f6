//! Network addresses as rate limits and logs see them: address ranges (CIDR) for trusted
//! reverse proxies, the canonical form of an address, and the key a limit counts it under.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// An address range such as `10.0.0.0/8` or `fd00::/8`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDRESS[/PREFIX]`; `None` for anything else (or a prefix longer than the
    /// address).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network = canonical(addr.trim().parse().ok()?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then(|| Cidr { network: mask(network, prefix), prefix })
    }

    /// True when `ip` (in any form, IPv4-mapped included) lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }

    /// The loopback ranges: the default set of trusted proxies.
    pub fn loopback() -> Vec<Cidr> {
        ["127.0.0.0/8", "::1/128"].iter().filter_map(|c| Cidr::parse(c)).collect()
    }

    /// Parses a comma-separated list (a TOML array's brackets and quotes are ignored).
    pub fn parse_list(text: &str) -> Option<Vec<Cidr>> {
        let cleaned: String = text.chars().filter(|c| !matches!(c, '[' | ']' | '"' | '\'')).collect();
        cleaned.split(',').map(str::trim).filter(|p| !p.is_empty()).map(Cidr::parse).collect()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// `ip` with IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a `[::]` listener sees) turned back
/// into IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key rate limits count `ip` under: an IPv4 address, or the /64 an IPv6 address is in
/// (one subscriber's share, which they can pick addresses from at will).
pub fn limit_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        v6 => format!("{}/64", mask(v6, 64)),
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// The client's address behind `trusted` proxies: the peer, or, when the peer is trusted, the
/// rightmost hop of `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends
/// the address it saw, so only the hops left of the last trusted one can be forged), or
/// `X-Real-IP` when there is no `X-Forwarded-For`. `header(name)` gives a header's values
/// joined by commas. IPv4-mapped addresses come back as IPv4.
pub fn forwarded_client(peer: IpAddr, header: impl Fn(&str) -> String, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    let forwarded = header("X-Forwarded-For");
    let hops: Vec<&str> =
        if forwarded.trim().is_empty() { vec![] } else { forwarded.split(',').map(str::trim).collect() };
    if hops.is_empty() {
        return header("X-Real-IP").trim().parse().map(canonical).unwrap_or(client);
    }
    for hop in hops.iter().rev() {
        // A hop that is not an address means the chain can no longer be trusted: stop at the
        // last one we could read.
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    #[test]
    fn ranges_contain_their_addresses_in_any_form() {
        let private = Cidr::parse("10.0.0.0/8").unwrap_or_else(|| panic!("parses"));
        assert!(private.contains(ip("10.1.2.3")));
        assert!(private.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped is the same address");
        assert!(!private.contains(ip("11.0.0.1")));
        let one = Cidr::parse("192.0.2.7").unwrap_or_else(|| panic!("parses"));
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap_or_else(|| panic!("parses"));
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("example.com"), None);
    }

    #[test]
    fn lists_parse_from_the_environment_and_toml() {
        let list = Cidr::parse_list("127.0.0.1, 10.0.0.0/8").unwrap_or_default();
        assert_eq!(list.len(), 2);
        assert_eq!(Cidr::parse_list(r#"["::1", "172.16.0.0/12"]"#).map(|l| l.len()), Some(2));
        assert_eq!(Cidr::parse_list("10.0.0.0/8, nope"), None);
        assert_eq!(Cidr::parse_list("").map(|l| l.len()), Some(0));
    }

    #[test]
    fn limits_count_ipv6_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), limit_key(ip("2001:db8:1:2:bbbb::2")));
        assert_ne!(limit_key(ip("2001:db8:1:2::1")), limit_key(ip("2001:db8:1:3::1")));
    }
}
