//! Parsing of an instance's INFO text into the fields a sentinel uses
//! (`sentinelRefreshInstanceInfo`, reference §5.2).

/// The fields of one INFO reply that matter to a sentinel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InfoFields {
    pub run_id: Option<String>,
    pub role_master: Option<bool>,
    /// Replicas listed by a master (`slaveN:ip=..,port=..`).
    pub slaves: Vec<(String, u16)>,
    /// `master_link_down_since_seconds` × 1000 (0 when absent).
    pub master_link_down_ms: i64,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: Option<bool>,
    pub slave_priority: Option<i64>,
    pub slave_repl_offset: Option<i64>,
    pub replica_announced: Option<bool>,
    pub master_repl_offset: Option<i64>,
}

/// Parse an INFO text. Unknown or malformed lines are ignored.
pub fn parse_info(text: &str) -> InfoFields {
    let mut f = InfoFields::default();
    let mut seen_slave_role = false;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        let line = line.trim_end_matches('\r');
        if line.len() >= 47 {
            if let Some(id) = line.strip_prefix("run_id:") {
                f.run_id = Some(id[..40.min(id.len())].to_string());
                continue;
            }
        }
        if let Some(rest) = line.strip_prefix("slave") {
            if let Some((idx, val)) = rest.split_once(':') {
                if !idx.is_empty() && idx.bytes().all(|c| c.is_ascii_digit()) {
                    if let Some(addr) = parse_slave_line(val) {
                        f.slaves.push(addr);
                    }
                    continue;
                }
            }
        }
        if let Some(v) = line.strip_prefix("master_link_down_since_seconds:") {
            f.master_link_down_ms = v.trim().parse::<i64>().map(|s| s * 1000).unwrap_or(0);
            continue;
        }
        if let Some(v) = line.strip_prefix("master_repl_offset:") {
            f.master_repl_offset = v.trim().parse().ok();
            continue;
        }
        if line == "role:master" {
            f.role_master = Some(true);
            continue;
        }
        if line == "role:slave" {
            f.role_master = Some(false);
            seen_slave_role = true;
            continue;
        }
        if !seen_slave_role {
            continue;
        }
        if let Some(v) = line.strip_prefix("master_host:") {
            f.master_host = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("master_port:") {
            f.master_port = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("master_link_status:") {
            f.master_link_up = Some(v.trim() == "up");
        } else if let Some(v) = line.strip_prefix("slave_priority:") {
            f.slave_priority = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("slave_repl_offset:") {
            f.slave_repl_offset = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("replica_announced:") {
            f.replica_announced = Some(v.trim() != "0");
        }
    }
    f
}

/// `ip=..,port=..,state=..` (new form) or `ip,port,state` (pre-2.8 form).
fn parse_slave_line(val: &str) -> Option<(String, u16)> {
    if val.contains("ip=") {
        let mut ip = None;
        let mut port = None;
        for kv in val.split(',') {
            if let Some(v) = kv.strip_prefix("ip=") {
                ip = Some(v.to_string());
            } else if let Some(v) = kv.strip_prefix("port=") {
                port = v.parse::<u16>().ok();
            }
        }
        match (ip, port) {
            (Some(ip), Some(port)) if !ip.is_empty() && port != 0 => Some((ip, port)),
            _ => None,
        }
    } else {
        let mut it = val.split(',');
        let ip = it.next()?.to_string();
        let port = it.next()?.parse::<u16>().ok()?;
        it.next()?;
        if ip.is_empty() || port == 0 {
            return None;
        }
        Some((ip, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "# Server\r\nredis_version:7.0.15\r\nrun_id:0123456789abcdef0123456789abcdef01234567\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=100,lag=0\r\nslave1:ip=127.0.0.1,port=6381,state=online,offset=100,lag=1\r\nslave2:127.0.0.2,6390,online\r\nslave3:ip=,port=0\r\nmaster_failover_state:no-failover\r\n";

    #[test]
    fn master_info() {
        let f = parse_info(MASTER);
        assert_eq!(
            f.run_id.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(f.role_master, Some(true));
        assert_eq!(
            f.slaves,
            vec![
                ("127.0.0.1".to_string(), 6380),
                ("127.0.0.1".to_string(), 6381),
                ("127.0.0.2".to_string(), 6390)
            ]
        );
        assert_eq!(f.master_host, None);
    }

    #[test]
    fn replica_info() {
        let t = "role:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:-1\r\nslave_repl_offset:42\r\nslave_priority:0\r\nreplica_announced:0\r\n";
        let f = parse_info(t);
        assert_eq!(f.role_master, Some(false));
        assert_eq!(f.master_host.as_deref(), Some("10.0.0.1"));
        assert_eq!(f.master_port, Some(6379));
        assert_eq!(f.master_link_up, Some(false));
        assert_eq!(f.master_link_down_ms, -1000);
        assert_eq!(f.slave_repl_offset, Some(42));
        assert_eq!(f.slave_priority, Some(0));
        assert_eq!(f.replica_announced, Some(false));
    }

    #[test]
    fn garbage_is_ignored() {
        let f = parse_info("slave:foo\r\nslaveX:1\r\nrun_id:short\r\n\u{0}\u{1}");
        assert_eq!(f, InfoFields::default());
    }
}
