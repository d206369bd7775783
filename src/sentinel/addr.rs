//! Instance addresses under `resolve-hostnames` / `announce-hostnames`, as Redis 7.0
//! keeps them (`sentinelAddr`): the host as given plus the IP it resolved to when the
//! address was created ([`Instance::ip`] and [`Instance::resolved`]).
//!
//! * What is reported (replies, events, hellos, IS-MASTER-DOWN-BY-ADDR, REPLICAOF
//!   targets, config rewrite, replica names) is the IP, or the host as given with
//!   `announce-hostnames yes` (`announceSentinelAddr`): [`Global::shown`].
//! * Addresses that come in (a peer's ask, a hello, a replica's `master_host`) match
//!   by IP or by host name, resolving the incoming name when needed
//!   (`sentinelAddrEqualsHostname`, `sentinelAddrOrHostnameEqual`):
//!   [`Global::addr_is`], [`Global::same_addr`].
//!
//! Resolution goes through [`Resolver`], injected so the machine stays sans-IO and
//! the simulator deterministic: the real one asks the system resolver (synchronous,
//! like Redis's `anetResolve`; only ever for names, IP literals are parsed), tests use
//! a table. Addresses are resolved when created; a link that connects also reports
//! the IP it reached ([`super::machine::Machine::handle_link_up`]), which is how
//! Redis's re-resolution on reconnect shows up here.

use super::state::{Global, Instance};
use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;

/// Turns a host name into an IP address.
pub trait Resolve: Send + Sync {
    /// The first address `host` resolves to, as text; `None` when it does not.
    fn resolve(&self, host: &str) -> Option<String>;
}

/// The system resolver (`getaddrinfo`, first answer, like Redis's `anetResolve`).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Option<String> {
        match (host, 0u16).to_socket_addrs() {
            Ok(mut addrs) => addrs.next().map(|a| a.ip().to_string()),
            Err(e) => {
                tracing::debug!(host, %e, "Failed to resolve hostname");
                None
            }
        }
    }
}

/// A fixed table of names (the simulator and unit tests).
pub struct TableResolver(pub HashMap<String, String>);

impl Resolve for TableResolver {
    fn resolve(&self, host: &str) -> Option<String> {
        self.0.get(&host.to_ascii_lowercase()).cloned()
    }
}

/// The resolver a sentinel uses (shared, cheap to clone).
#[derive(Clone)]
pub struct Resolver(Arc<dyn Resolve>);

impl Resolver {
    pub fn new(r: impl Resolve + 'static) -> Resolver {
        Resolver(Arc::new(r))
    }

    /// A resolver that knows exactly these `(name, ip)` pairs (names compared
    /// without case).
    pub fn table<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Resolver {
        Resolver::new(TableResolver(
            pairs
                .into_iter()
                .map(|(n, ip)| (n.to_ascii_lowercase(), ip.to_string()))
                .collect(),
        ))
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::new(SystemResolver)
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Global {
    /// The IP of `host` when an address is created (`createSentinelAddr`): an IP
    /// literal is itself; a name is resolved only with `resolve-hostnames yes`.
    pub fn resolve(&self, host: &str) -> Option<String> {
        if host.parse::<IpAddr>().is_ok() {
            return Some(host.to_string());
        }
        if !self.resolve_hostnames {
            return None;
        }
        self.resolver.0.resolve(host)
    }

    /// What is reported for `i` (`announceSentinelAddr`): its IP, or the host as
    /// given with `announce-hostnames yes`. An address that never resolved (Redis
    /// reports an empty string) is reported as the host name, which a client can
    /// still use.
    pub fn shown<'a>(&self, i: &'a Instance) -> &'a str {
        if self.announce_hostnames {
            &i.ip
        } else {
            i.resolved.as_deref().unwrap_or(&i.ip)
        }
    }

    /// `i`'s reported `ip:port` (`announceSentinelAddrAndPort`), a replica's name.
    pub fn shown_key(&self, i: &Instance) -> String {
        super::state::addr_key(self.shown(i), i.port)
    }

    /// Whether `host` (a replica's `master_host`, a hello's master address) names
    /// the instance `i` (`sentinelAddrEqualsHostname`): by IP once resolved, else
    /// by the host name as given.
    pub fn addr_is(&self, i: &Instance, host: &str) -> bool {
        // Without a lookup (the usual case, on every INFO): its IP, or the name as
        // given when names are resolved.
        if i.resolved
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(host))
            || (self.resolve_hostnames && i.ip.eq_ignore_ascii_case(host))
        {
            return true;
        }
        match self.resolve(host) {
            Some(ip) => i
                .resolved
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(&ip)),
            None if self.resolve_hostnames => false,
            None => i
                .resolved
                .as_deref()
                .unwrap_or(&i.ip)
                .eq_ignore_ascii_case(host),
        }
    }

    /// Whether `host:port` (a peer's IS-MASTER-DOWN-BY-ADDR, a hello's sender) is
    /// the address of `i` (`sentinelAddrOrHostnameEqual` against an address made
    /// from `host`): same port, and the same IP or the same host name.
    pub fn same_addr(&self, i: &Instance, host: &str, port: u16) -> bool {
        if i.port != port {
            return false;
        }
        if i.ip.eq_ignore_ascii_case(host) {
            return true;
        }
        match (&i.resolved, self.resolve(host)) {
            (Some(a), Some(b)) => *a == b,
            _ => false,
        }
    }

    /// A new instance at `host:port`, its address resolved now
    /// (`createSentinelRedisInstance`). A replica is named after its reported
    /// address (`ip:port`, or `host:port` with `announce-hostnames yes`).
    pub fn instance(
        &self,
        kind: super::state::Kind,
        name: String,
        host: String,
        port: u16,
        now: std::time::Instant,
    ) -> Instance {
        let mut i = Instance::new(kind, name, host, port, now);
        i.resolved = self.resolve(&i.ip);
        if kind == super::state::Kind::Replica {
            i.name = self.shown_key(&i);
            i.key = super::state::Name::from(i.name.as_str());
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::Kind;
    use super::*;
    use std::time::Instant;

    fn g(resolve: bool, announce: bool) -> Global {
        Global {
            resolve_hostnames: resolve,
            announce_hostnames: announce,
            resolver: Resolver::table([("db1", "10.0.0.1"), ("db1-alias", "10.0.0.1")]),
            ..Global::default()
        }
    }

    #[test]
    fn reported_address_follows_announce_hostnames() {
        let now = Instant::now();
        let g1 = g(true, false);
        let r = g1.instance(Kind::Replica, String::new(), "db1".into(), 6380, now);
        assert_eq!(r.resolved.as_deref(), Some("10.0.0.1"));
        assert_eq!(g1.shown(&r), "10.0.0.1");
        assert_eq!(r.name, "10.0.0.1:6380");
        let g2 = g(true, true);
        assert_eq!(g2.shown(&r), "db1");
        assert_eq!(
            g2.instance(Kind::Replica, String::new(), "db1".into(), 6380, now)
                .name,
            "db1:6380"
        );
        // Unresolvable: the host name is reported (Redis: an empty string).
        let u = g1.instance(Kind::Master, "m".into(), "nowhere".into(), 1, now);
        assert_eq!((u.resolved.as_deref(), g1.shown(&u)), (None, "nowhere"));
        // resolve-hostnames no: names are never looked up, IPs are themselves.
        let g3 = g(false, false);
        assert_eq!(g3.resolve("db1"), None);
        assert_eq!(g3.resolve("::1").as_deref(), Some("::1"));
        let v6 = g3.instance(Kind::Replica, String::new(), "::1".into(), 7, now);
        assert_eq!(v6.name, "[::1]:7");
    }

    #[test]
    fn incoming_addresses_match_by_ip_or_name() {
        let now = Instant::now();
        let g1 = g(true, false);
        let m = g1.instance(Kind::Master, "m".into(), "db1".into(), 6379, now);
        // sentinelAddrEqualsHostname: the IP, the name, another name for the IP.
        assert!(g1.addr_is(&m, "10.0.0.1"));
        assert!(g1.addr_is(&m, "DB1"));
        assert!(g1.addr_is(&m, "db1-alias"));
        assert!(!g1.addr_is(&m, "10.0.0.2"));
        assert!(!g1.addr_is(&m, "other"));
        // sentinelAddrOrHostnameEqual: the port must match too.
        assert!(g1.same_addr(&m, "10.0.0.1", 6379));
        assert!(g1.same_addr(&m, "db1", 6379));
        assert!(g1.same_addr(&m, "db1-alias", 6379));
        assert!(!g1.same_addr(&m, "10.0.0.1", 6380));
        assert!(!g1.same_addr(&m, "10.0.0.2", 6379));
        // Never resolved: only the name matches; two unresolved names do not.
        let u = g1.instance(Kind::Master, "u".into(), "nowhere".into(), 1, now);
        assert!(g1.same_addr(&u, "NOWHERE", 1));
        assert!(!g1.same_addr(&u, "elsewhere", 1));
        assert!(g1.addr_is(&u, "nowhere"));
        assert!(!g1.addr_is(&u, "10.0.0.1"));
        // resolve-hostnames no: IPs only, names never match an IP.
        let g3 = g(false, false);
        let i = g3.instance(Kind::Master, "m".into(), "10.0.0.1".into(), 6379, now);
        assert!(g3.addr_is(&i, "10.0.0.1"));
        assert!(!g3.addr_is(&i, "db1"));
        assert!(!g3.same_addr(&i, "db1", 6379));
    }
}
