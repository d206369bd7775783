//! `sentinel.conf`: parsing in Redis's three phases (pre-monitor options, `monitor`
//! lines, everything else) and the state rewrite that keeps comments and unknown
//! lines in place while regenerating every `sentinel ...` line.

use super::addr::Resolver;
use super::state::{Global, Kind, Map, Master, Timers};
use crate::resp::split_args;
use std::time::{Duration, Instant};

/// Process-level directives a sentinel honours besides `sentinel ...` lines.
#[derive(Clone, Debug, Default)]
pub struct ProcessOptions {
    pub bind: Vec<String>,
    pub dir: Option<String>,
    pub logfile: Option<String>,
    pub pidfile: Option<String>,
    /// `daemonize yes`: fork into the background (unless supervised).
    pub daemonize: bool,
    /// `supervised no|upstart|systemd|auto`.
    pub supervised: String,
}

/// Everything read from the file.
#[derive(Debug)]
pub struct Loaded {
    pub global: Global,
    pub masters: Map<String, Master>,
    pub process: ProcessOptions,
    /// Whether `sentinel myid` was missing (a fresh id was generated).
    pub new_myid: bool,
}

/// Directives that belong to the sentinel's first phase.
const PRE_MONITOR: [&str; 9] = [
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

struct Line {
    no: usize,
    text: String,
    args: Vec<String>,
}

/// Parse `text` (the file, then `extra` lines from the command line). `path` only
/// names the file in error messages, which are one line: `file:line: reason`.
pub fn parse(
    path: &str,
    text: &str,
    extra: &[String],
    t: &Timers,
    now: Instant,
) -> Result<Loaded, String> {
    parse_with(path, text, extra, t, now, Resolver::default())
}

/// [`parse`] resolving host names (with `resolve-hostnames yes`) through `resolver`,
/// which the sentinel keeps using afterwards.
pub fn parse_with(
    path: &str,
    text: &str,
    extra: &[String],
    t: &Timers,
    now: Instant,
    resolver: Resolver,
) -> Result<Loaded, String> {
    let mut g = Global {
        port: 26379,
        deny_scripts_reconfig: true,
        loglevel: "notice".into(),
        resolver,
        ..Global::default()
    };
    let mut process = ProcessOptions::default();
    let mut sentinel_lines: Vec<Line> = Vec::new();
    let all = text
        .lines()
        .map(|l| l.to_string())
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .chain(extra.iter().map(|l| (0, l.clone())));
    for (no, raw) in all {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fail = |reason: &str| -> String {
            if no == 0 {
                format!("{path}: command line: {reason} ('{trimmed}')")
            } else {
                format!("{path}:{no}: {reason} ('{trimmed}')")
            }
        };
        let args: Vec<String> = split_args(trimmed.as_bytes())
            .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        let Some(first) = args.first() else { continue };
        let key = first.to_ascii_lowercase();
        let n = args.len();
        match key.as_str() {
            "sentinel" => {
                if n < 2 {
                    return Err(fail("Unrecognized sentinel configuration statement."));
                }
                sentinel_lines.push(Line {
                    no,
                    text: trimmed.to_string(),
                    args: args[1..].to_vec(),
                });
            }
            "port" if n == 2 => {
                g.port = args[1].parse().map_err(|_| fail("Invalid port"))?;
            }
            "bind" if n >= 2 => process.bind = args[1..].to_vec(),
            "dir" if n == 2 => process.dir = Some(args[1].clone()),
            "logfile" if n == 2 => {
                process.logfile = Some(args[1].clone()).filter(|s| !s.is_empty())
            }
            "pidfile" if n == 2 => process.pidfile = Some(args[1].clone()),
            "daemonize" if n == 2 => {
                process.daemonize = match args[1].to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(fail("argument must be 'yes' or 'no'")),
                }
            }
            "supervised" if n == 2 => {
                let mode = args[1].to_ascii_lowercase();
                if !["no", "upstart", "systemd", "auto"].contains(&mode.as_str()) {
                    return Err(fail("Invalid option for 'supervised'. Allowed values: 'upstart', 'systemd', 'auto', or 'no'"));
                }
                process.supervised = mode;
            }
            "loglevel" if n == 2 => {
                let l = args[1].to_ascii_lowercase();
                if !["debug", "verbose", "notice", "warning", "nothing"].contains(&l.as_str()) {
                    return Err(fail("Invalid loglevel"));
                }
                g.loglevel = l;
            }
            "requirepass" if n == 2 => {
                g.requirepass = Some(args[1].clone()).filter(|s| !s.is_empty())
            }
            "port" | "bind" | "dir" | "logfile" | "pidfile" | "loglevel" | "requirepass"
            | "daemonize" | "supervised" => {
                return Err(fail("wrong number of arguments"));
            }
            // Other redis.conf directives (daemonize, protected-mode, ...) are kept in
            // the file and otherwise ignored.
            _ => tracing::debug!(directive = %key, "ignoring directive"),
        }
    }

    // Phase 1: pre-monitor options.
    let mut masters: Map<String, Master> = Map::default();
    let mut new_myid = false;
    for l in sentinel_lines
        .iter()
        .filter(|l| PRE_MONITOR.contains(&l.args[0].to_ascii_lowercase().as_str()))
    {
        apply(&mut g, &mut masters, l, t, now).map_err(|e| line_err(path, l, &e))?;
    }
    // Phase 2: monitor lines.
    for l in sentinel_lines
        .iter()
        .filter(|l| l.args[0].eq_ignore_ascii_case("monitor"))
    {
        apply(&mut g, &mut masters, l, t, now).map_err(|e| line_err(path, l, &e))?;
    }
    // Phase 3: everything else.
    for l in sentinel_lines.iter().filter(|l| {
        let k = l.args[0].to_ascii_lowercase();
        k != "monitor" && !PRE_MONITOR.contains(&k.as_str())
    }) {
        apply(&mut g, &mut masters, l, t, now).map_err(|e| line_err(path, l, &e))?;
    }
    if g.myid.is_empty() {
        g.myid = crate::util::ids::random_hex40();
        new_myid = true;
    }
    // Known sentinels that carry our own id are dropped (copied configs).
    for m in masters.values_mut() {
        let myid = g.myid.clone();
        m.sentinels.retain(|id, _| *id != myid);
    }
    Ok(Loaded {
        global: g,
        masters,
        process,
        new_myid,
    })
}

fn line_err(path: &str, l: &Line, e: &str) -> String {
    if l.no == 0 {
        format!("{path}: command line: {e} ('{}')", l.text)
    } else {
        format!("{path}:{}: {e} ('{}')", l.no, l.text)
    }
}

fn yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("Please specify yes or no".into()),
    }
}

/// Whether `path` names an executable file.
pub fn is_executable(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: access(2) on a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Whether `s` is a literal IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

fn parse_ms(s: &str) -> Result<Duration, String> {
    match s.parse::<i64>() {
        Ok(v) if v > 0 => Ok(Duration::from_millis(v as u64)),
        _ => Err("Negative or zero time parameter.".into()),
    }
}

/// Apply one `sentinel ...` directive (`sentinelHandleConfiguration`).
fn apply(
    g: &mut Global,
    masters: &mut Map<String, Master>,
    l: &Line,
    t: &Timers,
    now: Instant,
) -> Result<(), String> {
    let a = &l.args;
    let n = a.len();
    let key = a[0].to_ascii_lowercase();
    let unrecognized = || "Unrecognized sentinel configuration statement.".to_string();
    let no_master = || "No such master with specified name.".to_string();
    match (key.as_str(), n) {
        ("monitor", 5) => {
            let quorum: i64 = a[4].parse().unwrap_or(0);
            if quorum <= 0 {
                return Err("Quorum must be 1 or greater.".into());
            }
            let Ok(quorum) = u32::try_from(quorum) else {
                return Err("Quorum is out of range.".into());
            };
            let port: u16 = match a[3].parse() {
                Ok(p) if p > 0 => p,
                _ => return Err("Invalid port number".into()),
            };
            if !g.resolve_hostnames && !is_ip(&a[2]) {
                return Err("Can't resolve instance hostname.".into());
            }
            if masters.contains_key(&a[1]) {
                return Err("Duplicated master name.".into());
            }
            // Resolved now; a name that does not resolve is accepted, as Redis does
            // (reported as given until a link reaches it).
            let mut m = Master::new(a[1].clone(), a[2].clone(), port, quorum, t, now);
            m.inst.resolved = g.resolve(&a[2]);
            if m.inst.resolved.is_none() {
                tracing::warn!("Failed to resolve hostname '{}'", a[2]);
            }
            masters.insert(a[1].clone(), m);
        }
        ("down-after-milliseconds", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            let d = parse_ms(&a[2])?;
            m.inst.down_after = d;
            for r in m.replicas.values_mut().chain(m.sentinels.values_mut()) {
                r.down_after = d;
            }
        }
        ("failover-timeout", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            m.failover_timeout = parse_ms(&a[2])?;
        }
        ("parallel-syncs", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            m.parallel_syncs = a[2].parse::<i64>().unwrap_or(1).clamp(1, u32::MAX as i64) as u32;
        }
        ("notification-script", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            if !is_executable(&a[2]) {
                return Err("Notification script seems non existing or non executable.".into());
            }
            m.notification_script = Some(a[2].clone());
        }
        ("client-reconfig-script", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            if !is_executable(&a[2]) {
                return Err(
                    "Client reconfiguration script seems non existing or non executable.".into(),
                );
            }
            m.client_reconfig_script = Some(a[2].clone());
        }
        ("auth-pass", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            m.auth_pass = Some(a[2].clone()).filter(|s| !s.is_empty());
        }
        ("auth-user", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            m.auth_user = Some(a[2].clone()).filter(|s| !s.is_empty());
        }
        ("current-epoch", 2) => {
            let e: u64 = a[1].parse().map_err(|_| unrecognized())?;
            g.current_epoch = g.current_epoch.max(e);
        }
        ("myid", 2) => {
            if a[1].len() != 40 {
                return Err("Malformed Sentinel id in myid option.".into());
            }
            g.myid = a[1].clone();
        }
        ("config-epoch", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            let e: u64 = a[2].parse().map_err(|_| unrecognized())?;
            m.config_epoch = e;
            g.current_epoch = g.current_epoch.max(e);
        }
        ("leader-epoch", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            m.leader_epoch = a[2].parse().map_err(|_| unrecognized())?;
        }
        ("known-slave" | "known-replica", 4) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            let port: u16 = match a[3].parse() {
                Ok(p) if p > 0 => p,
                _ => return Err("Wrong hostname or port for replica.".into()),
            };
            let mut r = g.instance(Kind::Replica, String::new(), a[2].clone(), port, now);
            r.down_after = m.inst.down_after;
            m.replicas.insert(r.name.clone(), r);
        }
        ("known-sentinel", 4) => {
            // The form without a run id is ignored, as Redis does.
            masters.get(&a[1]).ok_or_else(no_master)?;
        }
        ("known-sentinel", 5) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            let port: u16 = match a[3].parse() {
                Ok(p) => p,
                _ => return Err("Wrong hostname or port for sentinel.".into()),
            };
            if a[4] != g.myid {
                let mut s = g.instance(Kind::Sentinel, a[4].clone(), a[2].clone(), port, now);
                s.runid = a[4].clone();
                s.down_after = m.inst.down_after;
                m.sentinels.insert(a[4].clone(), s);
            }
        }
        ("rename-command", 4) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            if m.rename_commands
                .iter()
                .any(|(from, _)| from.eq_ignore_ascii_case(&a[2]))
            {
                return Err("Same command renamed multiple times with rename-command.".into());
            }
            m.rename_commands.push((a[2].clone(), a[3].clone()));
        }
        ("announce-ip", 2) => g.announce_ip = Some(a[1].clone()).filter(|s| !s.is_empty()),
        ("announce-port", 2) => {
            g.announce_port = a[1].parse().map_err(|_| "Invalid port".to_string())?
        }
        ("deny-scripts-reconfig", 2) => g.deny_scripts_reconfig = yes_no(&a[1])?,
        ("sentinel-user", 2) => g.sentinel_user = Some(a[1].clone()).filter(|s| !s.is_empty()),
        ("sentinel-pass", 2) => g.sentinel_pass = Some(a[1].clone()).filter(|s| !s.is_empty()),
        ("resolve-hostnames", 2) => g.resolve_hostnames = yes_no(&a[1])?,
        ("announce-hostnames", 2) => g.announce_hostnames = yes_no(&a[1])?,
        ("master-reboot-down-after-period", 3) => {
            let m = masters.get_mut(&a[1]).ok_or_else(no_master)?;
            let v: i64 = a[2].parse().map_err(|_| unrecognized())?;
            if v < 0 {
                return Err("Negative time parameter.".into());
            }
            m.master_reboot_down_after = Duration::from_millis(v as u64);
        }
        _ => return Err(unrecognized()),
    }
    Ok(())
}

pub use crate::util::quote::quote;

/// The `sentinel ...` lines describing the current state, in Redis's order.
pub fn render_state(g: &Global, masters: &Map<String, Master>) -> Vec<String> {
    let q = quote;
    let mut out = vec![format!("sentinel myid {}", g.myid)];
    if !g.deny_scripts_reconfig {
        out.push("sentinel deny-scripts-reconfig no".into());
    }
    if g.resolve_hostnames {
        out.push("sentinel resolve-hostnames yes".into());
    }
    if g.announce_hostnames {
        out.push("sentinel announce-hostnames yes".into());
    }
    if let Some(u) = &g.sentinel_user {
        out.push(format!("sentinel sentinel-user {}", q(u)));
    }
    if let Some(p) = &g.sentinel_pass {
        out.push(format!("sentinel sentinel-pass {}", q(p)));
    }
    for m in masters.values() {
        let name = q(m.name());
        let cur = m.current();
        let (mip, mport) = m.current_addr(g);
        out.push(format!(
            "sentinel monitor {name} {} {mport} {}",
            q(&mip),
            m.quorum
        ));
        if m.inst.down_after != Duration::from_millis(30_000) {
            out.push(format!(
                "sentinel down-after-milliseconds {name} {}",
                m.inst.down_after.as_millis()
            ));
        }
        if m.failover_timeout != Duration::from_millis(180_000) {
            out.push(format!(
                "sentinel failover-timeout {name} {}",
                m.failover_timeout.as_millis()
            ));
        }
        if m.parallel_syncs != 1 {
            out.push(format!(
                "sentinel parallel-syncs {name} {}",
                m.parallel_syncs
            ));
        }
        if let Some(s) = &m.notification_script {
            out.push(format!("sentinel notification-script {name} {}", q(s)));
        }
        if let Some(s) = &m.client_reconfig_script {
            out.push(format!("sentinel client-reconfig-script {name} {}", q(s)));
        }
        if let Some(s) = &m.auth_pass {
            out.push(format!("sentinel auth-pass {name} {}", q(s)));
        }
        if let Some(s) = &m.auth_user {
            out.push(format!("sentinel auth-user {name} {}", q(s)));
        }
        if !m.master_reboot_down_after.is_zero() {
            out.push(format!(
                "sentinel master-reboot-down-after-period {name} {}",
                m.master_reboot_down_after.as_millis()
            ));
        }
        out.push(format!("sentinel config-epoch {name} {}", m.config_epoch));
        out.push(format!("sentinel leader-epoch {name} {}", m.leader_epoch));
        for r in m.replicas.values() {
            // The promoted replica is written as the old master's address.
            let r = if g.same_addr(r, &cur.ip, cur.port) {
                &m.inst
            } else {
                r
            };
            let (ip, port) = (g.shown(r), r.port);
            if ip == mip && port == mport {
                continue;
            }
            out.push(format!("sentinel known-replica {name} {} {port}", q(ip)));
        }
        for s in m.sentinels.values() {
            if s.runid.is_empty() {
                continue;
            }
            out.push(format!(
                "sentinel known-sentinel {name} {} {} {}",
                q(g.shown(s)),
                s.port,
                s.runid
            ));
        }
        for (from, to) in &m.rename_commands {
            out.push(format!(
                "sentinel rename-command {name} {} {}",
                q(from),
                q(to)
            ));
        }
    }
    out.push(format!("sentinel current-epoch {}", g.current_epoch));
    if let Some(ip) = &g.announce_ip {
        out.push(format!("sentinel announce-ip {}", q(ip)));
    }
    if g.announce_port != 0 {
        out.push(format!("sentinel announce-port {}", g.announce_port));
    }
    out
}

/// Merge the rendered state into the existing file text: every `sentinel ...` line is
/// removed, the state block goes where the first one was (or at the end after
/// `# Generated by CONFIG REWRITE`), and every other line stays as it was.
pub fn merge(existing: &str, state: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut placed = false;
    for line in existing.lines() {
        let is_sentinel = line
            .split_whitespace()
            .next()
            .map(|w| w.eq_ignore_ascii_case("sentinel"))
            .unwrap_or(false);
        if is_sentinel {
            if !placed {
                out.extend(state.iter().cloned());
                placed = true;
            }
            continue;
        }
        if line == "# Generated by CONFIG REWRITE" && !placed {
            out.push(line.to_string());
            out.extend(state.iter().cloned());
            placed = true;
            continue;
        }
        out.push(line.to_string());
    }
    if !placed {
        out.push("# Generated by CONFIG REWRITE".into());
        out.extend(state.iter().cloned());
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    fn load(text: &str) -> Result<Loaded, String> {
        parse("s.conf", text, &[], &Timers::default(), Instant::now())
    }

    #[test]
    fn phases_allow_any_order() {
        let l = load(&format!(
            "port 5000\nsentinel down-after-milliseconds m 500\nsentinel known-replica m 127.0.0.1 7001\n\
             sentinel monitor m 127.0.0.1 7000 2\nsentinel myid {ID}\nsentinel current-epoch 4\n\
             sentinel known-sentinel m 127.0.0.1 5001 abcdefabcdefabcdefabcdefabcdefabcdefabcd\n\
             sentinel known-sentinel m 127.0.0.1 5002 {ID}\nsentinel config-epoch m 7\n"
        ))
        .unwrap();
        assert_eq!(l.global.port, 5000);
        assert_eq!(l.global.myid, ID);
        assert_eq!(l.global.current_epoch, 7);
        let m = &l.masters["m"];
        assert_eq!(m.inst.down_after, Duration::from_millis(500));
        assert_eq!(m.replicas.len(), 1);
        assert_eq!(m.sentinels.len(), 1, "own id is not a peer");
        assert!(!l.new_myid);
    }

    #[test]
    fn errors_name_the_line() {
        let e = load("\nsentinel monitor m 127.0.0.1 7000 0\n").unwrap_err();
        assert!(
            e.starts_with("s.conf:2: Quorum must be 1 or greater."),
            "{e}"
        );
        let e = load("sentinel down-after-milliseconds nope 10\n").unwrap_err();
        assert!(e.contains("No such master"), "{e}");
        let e = load("sentinel monitor m 127.0.0.1 7000 1\nsentinel monitor m 127.0.0.1 7001 1\n")
            .unwrap_err();
        assert!(e.contains("Duplicated master name."), "{e}");
        let e = load("sentinel bogus x\n").unwrap_err();
        assert!(e.contains("Unrecognized sentinel configuration statement."));
        let e = load("sentinel myid abc\n").unwrap_err();
        assert!(e.contains("Malformed Sentinel id"));
        let e = load("sentinel monitor m not-an-ip 7000 1\n").unwrap_err();
        assert!(e.contains("Can't resolve instance hostname."));
        assert!(load("sentinel monitor m \"unbalanced 1 2\n").is_err());
    }

    #[test]
    fn rewrite_keeps_comments_and_unknown_lines() {
        let text = format!(
            "# my comment\nport 5000\ndaemonize no\nsentinel monitor m 127.0.0.1 7000 2\n# between\nsentinel myid {ID}\nsome-unknown-directive 1\n"
        );
        let l = load(&text).unwrap();
        let state = render_state(&l.global, &l.masters);
        let out = merge(&text, &state);
        assert!(out.starts_with("# my comment\nport 5000\ndaemonize no\nsentinel myid "));
        assert!(out.contains("# between\n"));
        assert!(out.contains("some-unknown-directive 1\n"));
        assert!(out.contains("sentinel monitor m 127.0.0.1 7000 2\n"));
        assert!(out.contains("sentinel current-epoch 0\n"));
        // Re-parsing the output gives the same state.
        let again = load(&out).unwrap();
        assert_eq!(render_state(&again.global, &again.masters), state);
    }

    #[test]
    fn missing_myid_is_generated() {
        let l = load("sentinel monitor m 127.0.0.1 7000 2\n").unwrap();
        assert!(l.new_myid);
        assert!(crate::util::ids::is_hex40(&l.global.myid));
        let out = merge("port 1\n", &render_state(&l.global, &l.masters));
        assert!(out.contains("# Generated by CONFIG REWRITE\nsentinel myid "));
    }

    #[test]
    fn example_config_loads() {
        let text = include_str!("../../sentinel.conf.example");
        let l = load(text).unwrap();
        assert_eq!(l.global.port, 26379);
        assert_eq!(l.masters["mymaster"].quorum, 2);
        assert_eq!(l.process.logfile, None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote(""), "\"\"");
        let line = format!("x {}", quote("p\"w\\d"));
        let args = split_args(line.as_bytes()).unwrap();
        assert_eq!(args[1], b"p\"w\\d");
    }
}
