//! The destination policy (SERVER.md §11.3): which addresses the server may call. It owns the
//! refused ranges (loopback, link-local, private, CGNAT, unique-local, multicast, broadcast,
//! unspecified, and their IPv4-mapped IPv6 forms), the operator's openings
//! (`--allow-destination CIDR|HOSTNAME`, `--allow-private-destinations`), the check made when a
//! URL is accepted, and the DNS resolver deliveries use, which hands the connector only allowed
//! addresses so that the check is on the address actually dialled.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A range of addresses: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the range (an IPv4 range also holds the IPv4-mapped IPv6 forms
    /// of its addresses).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `ADDR/PREFIX`, or a bare address (a range of one).
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address range like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The ranges refused unless opened: (what it is, the range).
const REFUSED: &[(&str, &str)] = &[
    ("unspecified", "0.0.0.0/8"),
    ("loopback", "127.0.0.0/8"),
    ("private", "10.0.0.0/8"),
    ("private", "172.16.0.0/12"),
    ("private", "192.168.0.0/16"),
    ("CGNAT", "100.64.0.0/10"),
    ("link-local", "169.254.0.0/16"),
    ("multicast", "224.0.0.0/4"),
    ("broadcast", "255.255.255.255/32"),
    ("unspecified", "::/128"),
    ("loopback", "::1/128"),
    ("link-local", "fe80::/10"),
    ("unique-local", "fc00::/7"),
    ("multicast", "ff00::/8"),
];

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for; others as they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The refused range `ip` is in, if any: (what it is, the range).
fn refused_range(ip: IpAddr) -> Option<(&'static str, Cidr)> {
    REFUSED.iter().find_map(|(kind, range)| {
        let cidr: Cidr = range.parse().ok()?;
        cidr.contains(ip).then_some((*kind, cidr))
    })
}

/// Why a destination is refused: the address, the range it is in and the flag that opens it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{target} is in the {kind} range {range}, which this server does not call; \
     --allow-destination {range} (or --allow-private-destinations) opens it"
)]
pub struct DestinationRefused {
    /// The address (or `name (address)`) refused.
    pub target: String,
    /// What the range is: `loopback`, `private`, `link-local`, …
    pub kind: &'static str,
    /// The range.
    pub range: String,
}

/// Which destinations the server may call. [`DestinationPolicy::refuse_private`] is the
/// policy of `qstash serve`; [`DestinationPolicy::allow_all`] that of `qstash dev` (and the
/// default of [`ServerBuilder`](crate::ServerBuilder), which calls whatever it is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Everything allowed: no check at all.
    open: bool,
    /// Every refused range opened (`--allow-private-destinations`).
    allow_private: bool,
    /// Ranges opened (`--allow-destination CIDR`).
    nets: Vec<Cidr>,
    /// Host names opened (`--allow-destination HOSTNAME`), lowercase; `*.example.com` opens
    /// every name under `example.com`.
    hosts: Vec<String>,
}

impl DestinationPolicy {
    /// Every destination allowed (`qstash dev`).
    pub fn allow_all() -> DestinationPolicy {
        DestinationPolicy {
            open: true,
            allow_private: false,
            nets: Vec::new(),
            hosts: Vec::new(),
        }
    }

    /// The refused ranges refused (`qstash serve`), until [`allow`](Self::allow) or
    /// [`allow_private`](Self::allow_private) opens some.
    pub fn refuse_private() -> DestinationPolicy {
        DestinationPolicy {
            open: false,
            ..DestinationPolicy::allow_all()
        }
    }

    /// Opens every refused range (`--allow-private-destinations`).
    pub fn allow_private(mut self) -> DestinationPolicy {
        self.allow_private = true;
        self
    }

    /// Opens a range (`10.1.0.0/16`, or one address) or a host name (`hooks.internal`,
    /// `*.internal`): `--allow-destination`.
    pub fn allow(mut self, rule: &str) -> Result<DestinationPolicy, String> {
        let rule = rule.trim();
        if rule.is_empty() {
            return Err("an empty rule: give a range like 10.0.0.0/8 or a host name".into());
        }
        if rule.contains('/') || rule.parse::<IpAddr>().is_ok() {
            self.nets.push(rule.parse()?);
            return Ok(self);
        }
        let name = rule.strip_prefix("*.").unwrap_or(rule);
        let valid = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(format!(
                "{rule:?} is neither an address range like 10.0.0.0/8 nor a host name"
            ));
        }
        self.hosts.push(rule.to_ascii_lowercase());
        Ok(self)
    }

    /// Whether every destination is allowed without a check.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Checks one address.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), DestinationRefused> {
        if self.open || self.allow_private {
            return Ok(());
        }
        let ip = canonical(ip);
        let Some((kind, range)) = refused_range(ip) else {
            return Ok(());
        };
        if self.nets.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        Err(DestinationRefused {
            target: ip.to_string(),
            kind,
            range: range.to_string(),
        })
    }

    /// Whether a host name was opened by name (then whatever it resolves to is allowed).
    pub fn host_allowed(&self, host: &str) -> bool {
        if self.open || self.allow_private {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|rule| match rule.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|head| head.ends_with('.')),
            None => *rule == host,
        })
    }

    /// Checks a name's addresses: the allowed ones, or why none is.
    fn filter(
        &self,
        name: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, DestinationRefused> {
        if self.host_allowed(name) {
            return Ok(addrs);
        }
        let mut refused = None;
        let mut allowed = Vec::with_capacity(addrs.len());
        for a in addrs {
            match self.check_ip(a.ip()) {
                Ok(()) => allowed.push(a),
                Err(e) => refused = refused.or(Some(e)),
            }
        }
        match (allowed.is_empty(), refused) {
            (true, Some(mut e)) => {
                e.target = format!("{name} ({})", e.target);
                Err(e)
            }
            _ => Ok(allowed),
        }
    }
}

impl Default for DestinationPolicy {
    /// [`DestinationPolicy::allow_all`].
    fn default() -> DestinationPolicy {
        DestinationPolicy::allow_all()
    }
}

/// `localhost` and names under it are loopback (RFC 6761), whatever a resolver says.
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// A URL's host: a literal address or a name.
enum Host {
    Ip(IpAddr),
    Name(String),
}

fn host_of(url: &reqwest::Url) -> Option<Host> {
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host.to_owned()),
    })
}

/// The system's resolver (`getaddrinfo` on a blocking thread, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The policy with the resolver it resolves names with: it checks URLs when they are accepted
/// and is the DNS resolver of the delivery client.
#[derive(Clone)]
pub(crate) struct Guard {
    policy: Arc<DestinationPolicy>,
    resolver: Arc<dyn Resolve>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How long an accept waits for a name's addresses before leaving the check to delivery.
const ACCEPT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

impl Guard {
    pub(crate) fn new(policy: DestinationPolicy, resolver: Arc<dyn Resolve>) -> Guard {
        Guard {
            policy: Arc::new(policy),
            resolver,
        }
    }

    /// Whether every destination is allowed (nothing to check).
    pub(crate) fn is_open(&self) -> bool {
        self.policy.is_open()
    }

    /// Checks a URL the server will call, when it is accepted: a literal address must be
    /// allowed; a name must not resolve only to refused addresses. A name that does not
    /// resolve now is accepted (delivery checks it again).
    pub(crate) async fn check_url(&self, url: &str) -> Result<(), DestinationRefused> {
        if self.policy.is_open() {
            return Ok(());
        }
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return Ok(());
        };
        match host_of(&parsed) {
            Some(Host::Ip(ip)) => self.policy.check_ip(ip),
            Some(Host::Name(name)) => {
                let name = name.as_str();
                if self.policy.host_allowed(name) {
                    return Ok(());
                }
                if is_localhost(name) {
                    return self
                        .policy
                        .check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
                        .and(self.policy.check_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)))
                        .map_err(|mut e| {
                            e.target = format!("{name} ({})", e.target);
                            e
                        });
                }
                let Ok(n) = Name::from_str(name) else {
                    return Ok(());
                };
                let resolved =
                    tokio::time::timeout(ACCEPT_RESOLVE_TIMEOUT, self.resolver.resolve(n)).await;
                match resolved {
                    Ok(Ok(addrs)) => {
                        let addrs: Vec<SocketAddr> = addrs.collect();
                        if addrs.is_empty() {
                            return Ok(());
                        }
                        self.policy.filter(name, addrs).map(|_| ())
                    }
                    _ => Ok(()),
                }
            }
            None => Ok(()),
        }
    }

    /// Checks the host of a URL about to be called when it is a literal address (the
    /// connector dials those without asking the resolver).
    pub(crate) fn check_literal(&self, url: &reqwest::Url) -> Result<(), DestinationRefused> {
        match host_of(url) {
            Some(Host::Ip(ip)) => self.policy.check_ip(ip),
            _ => Ok(()),
        }
    }
}

impl Resolve for Guard {
    /// Resolves with the inner resolver and hands on only the allowed addresses; a name with
    /// none fails with [`DestinationRefused`].
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        if !policy.is_open() && !policy.host_allowed(&host) && is_localhost(&host) {
            let refused = policy
                .check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .map_err(|mut e| {
                    e.target = format!("{host} ({})", e.target);
                    e
                });
            if let Err(e) = refused {
                return Box::pin(async move { Err(Box::new(e) as _) });
            }
        }
        let inner = self.resolver.resolve(name);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = inner.await?.collect();
            let allowed = policy.filter(&host, addrs)?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The refusal in an error's source chain, if the error is one.
pub(crate) fn refusal_in<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a DestinationRefused> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<DestinationRefused>() {
            return Some(r);
        }
        cur = err.source();
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
    fn every_refused_range_is_refused() {
        let p = DestinationPolicy::refuse_private();
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.255", "CGNAT"),
            ("fc00::1", "unique-local"),
            ("fd12::1", "unique-local"),
            ("224.0.0.1", "multicast"),
            ("239.1.1.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
        ] {
            let e = p.check_ip(ip(addr)).expect_err(addr);
            assert_eq!(e.kind, kind, "{addr}");
            assert!(e.to_string().contains("--allow-destination"), "{e}");
        }
        for addr in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1",
            "::ffff:1.1.1.1",
            "11.0.0.1",
        ] {
            assert_eq!(p.check_ip(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn openings() {
        let p = DestinationPolicy::refuse_private()
            .allow("127.0.0.0/8")
            .unwrap()
            .allow("fd00::5")
            .unwrap()
            .allow("*.internal")
            .unwrap()
            .allow("Hooks.Example")
            .unwrap();
        assert_eq!(p.check_ip(ip("127.0.0.2")), Ok(()));
        assert_eq!(p.check_ip(ip("::ffff:127.0.0.2")), Ok(()));
        assert_eq!(p.check_ip(ip("fd00::5")), Ok(()));
        assert!(p.check_ip(ip("fd00::6")).is_err());
        assert!(p.check_ip(ip("10.0.0.1")).is_err());
        assert!(p.host_allowed("a.b.internal"));
        assert!(!p.host_allowed("internal"));
        assert!(!p.host_allowed("xinternal"));
        assert!(p.host_allowed("hooks.example."));
        assert!(!p.host_allowed("other.example"));
        let all = DestinationPolicy::refuse_private().allow_private();
        assert_eq!(all.check_ip(ip("10.0.0.1")), Ok(()));
        assert_eq!(DestinationPolicy::allow_all().check_ip(ip("::1")), Ok(()));
        for bad in ["", "10.0.0.0/33", "::/129", "a b", "x/8", "-/-"] {
            assert!(
                DestinationPolicy::refuse_private().allow(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_name_with_only_refused_addresses_is_refused() {
        let p = DestinationPolicy::refuse_private();
        let a = |s: &str| SocketAddr::new(ip(s), 0);
        let e = p
            .filter("db.local", vec![a("10.0.0.1"), a("::1")])
            .unwrap_err();
        assert!(e.target.starts_with("db.local (10.0.0.1)"), "{e}");
        assert_eq!(
            p.filter("mixed", vec![a("10.0.0.1"), a("1.1.1.1")])
                .unwrap(),
            vec![a("1.1.1.1")]
        );
    }
}
