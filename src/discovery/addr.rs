//! `HOST:PORT` addresses of sentinels and data nodes.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

use super::DiscoveryError;

/// A node address as sentinels report it: a host (IP or name) and a TCP port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        Addr {
            host: host.into(),
            port,
        }
    }

    /// Parse a comma-separated `HOST:PORT[,HOST:PORT...]` list (empty items skipped).
    pub fn parse_list(s: &str) -> Result<Vec<Addr>, DiscoveryError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Addr::from_str)
            .collect()
    }

    /// `host:port` for `redis://` URLs and `TcpStream::connect`.
    pub fn url(&self) -> String {
        format!("redis://{self}/")
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for Addr {
    type Err = DiscoveryError;

    /// `host:port`, `[v6]:port`.
    fn from_str(s: &str) -> Result<Addr, DiscoveryError> {
        let bad = || DiscoveryError::InvalidAddress(s.to_string());
        let (host, port) = s.trim().rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad());
        }
        let port: u16 = port.parse().map_err(|_| bad())?;
        if port == 0 {
            return Err(bad());
        }
        Ok(Addr::new(host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_forms() {
        assert_eq!(
            "127.0.0.1:26379".parse::<Addr>().unwrap(),
            Addr::new("127.0.0.1", 26379)
        );
        assert_eq!(
            "[::1]:7000".parse::<Addr>().unwrap(),
            Addr::new("::1", 7000)
        );
        assert_eq!(
            "[::1]:7000".parse::<Addr>().unwrap().to_string(),
            "[::1]:7000"
        );
        assert!("localhost".parse::<Addr>().is_err());
        assert!(":80".parse::<Addr>().is_err());
        assert!("h:0".parse::<Addr>().is_err());
        assert!("h:70000".parse::<Addr>().is_err());
        let l = Addr::parse_list("a:1, b:2,,").unwrap();
        assert_eq!(l, vec![Addr::new("a", 1), Addr::new("b", 2)]);
        assert!(Addr::parse_list("a:1,b").is_err());
    }
}
