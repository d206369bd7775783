//! Sentinel events: levels, Redis's message formats (`%@` instance descriptions),
//! the Redis log-line format, and notification-script invocation rules.

use super::state::{Global, Instance, Kind, Master};

/// Log level of an event (`#` warning, `*` notice, `-` verbose, `.` debug in logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl Level {
    pub fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }

    /// Whether a line at this level is written under `loglevel`.
    pub fn enabled(self, loglevel: &str) -> bool {
        let min = match loglevel {
            "debug" => Level::Debug,
            "verbose" => Level::Verbose,
            "notice" => Level::Notice,
            "warning" => Level::Warning,
            _ => return false,
        };
        self >= min
    }
}

/// One event: published on channel `kind` with message `text` (unless DEBUG), logged
/// as `<kind> <text>`, and given to the master's notification script when WARNING
/// and about an instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub level: Level,
    pub kind: String,
    pub text: String,
    /// Notification script to run (set for warning events about an instance whose
    /// master has one).
    pub script: Option<String>,
}

/// `%@`: `<type> <name> <ip> <port>` plus ` @ <master> <ip> <port>` for non-masters,
/// addresses as reported ([`Global::shown`]).
pub fn describe(g: &Global, m: &Master, inst: Option<&Instance>) -> String {
    let i = inst.unwrap_or(&m.inst);
    if i.kind == Kind::Master {
        return format!("master {} {} {}", i.name, g.shown(i), i.port);
    }
    format!(
        "{} {} {} {} @ {} {} {}",
        i.kind.word(),
        i.name,
        g.shown(i),
        i.port,
        m.inst.name,
        g.shown(&m.inst),
        m.inst.port
    )
}

/// Build an event about an instance of `m` (`inst = None` means the master itself).
pub fn instance_event(
    g: &Global,
    level: Level,
    kind: &str,
    m: &Master,
    inst: Option<&Instance>,
    extra: &str,
) -> Event {
    let mut text = describe(g, m, inst);
    if !extra.is_empty() {
        text.push(' ');
        text.push_str(extra);
    }
    Event {
        level,
        kind: kind.to_string(),
        text,
        script: if level == Level::Warning {
            m.notification_script.clone()
        } else {
            None
        },
    }
}

/// An event without an instance (`+new-epoch`, `+tilt`, `+switch-master`...).
pub fn plain_event(level: Level, kind: &str, text: String) -> Event {
    Event {
        level,
        kind: kind.to_string(),
        text,
        script: None,
    }
}

/// A log line in Redis's format: `<pid>:X <dd Mon yyyy HH:MM:SS.mmm> <mark> <msg>`.
pub fn log_line(pid: u32, unix_ms: u128, level: Level, msg: &str) -> String {
    format!("{pid}:X {} {} {msg}", format_time(unix_ms), level.mark())
}

/// `21 Nov 2026 20:58:13.123` (UTC).
pub fn format_time(unix_ms: u128) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = (unix_ms / 1000) as i64;
    let ms = (unix_ms % 1000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{d:02} {} {y} {h:02}:{mi:02}:{s:02}.{ms:03}",
        MONTHS[(m - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::state::Timers;
    use std::time::Instant;

    #[test]
    fn formats() {
        let now = Instant::now();
        let mut m = Master::new(
            "mymaster".into(),
            "127.0.0.1".into(),
            6379,
            2,
            &Timers::default(),
            now,
        );
        m.notification_script = Some("/bin/true".into());
        let r = Instance::new(
            Kind::Replica,
            "127.0.0.1:6380".into(),
            "127.0.0.1".into(),
            6380,
            now,
        );
        let g = Global::default();
        let e = instance_event(&g, Level::Warning, "+sdown", &m, Some(&r), "");
        assert_eq!(
            e.text,
            "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"
        );
        assert_eq!(e.script.as_deref(), Some("/bin/true"));
        let e = instance_event(&g, Level::Warning, "+odown", &m, None, "#quorum 2/2");
        assert_eq!(e.text, "master mymaster 127.0.0.1 6379 #quorum 2/2");
        let e = instance_event(&g, Level::Notice, "+slave", &m, Some(&r), "");
        assert_eq!(e.script, None);
        // A master given by name: its IP, or the name with announce-hostnames yes.
        let mut g = Global {
            resolve_hostnames: true,
            resolver: crate::sentinel::addr::Resolver::table([("db", "10.0.0.5")]),
            ..Global::default()
        };
        let h = g.instance(Kind::Master, "h".into(), "db".into(), 6379, now);
        m.inst = h;
        let e = instance_event(&g, Level::Warning, "+sdown", &m, Some(&r), "");
        assert_eq!(
            e.text,
            "slave 127.0.0.1:6380 127.0.0.1 6380 @ h 10.0.0.5 6379"
        );
        g.announce_hostnames = true;
        let e = instance_event(&g, Level::Warning, "+sdown", &m, None, "");
        assert_eq!(e.text, "master h db 6379");
    }

    #[test]
    fn time_format() {
        // 2026-11-21 20:58:13.123 UTC
        assert_eq!(format_time(1_795_294_693_123), "21 Nov 2026 20:58:13.123");
        assert_eq!(format_time(0), "01 Jan 1970 00:00:00.000");
        assert_eq!(
            log_line(7, 0, Level::Warning, "+tilt #tilt mode entered"),
            "7:X 01 Jan 1970 00:00:00.000 # +tilt #tilt mode entered"
        );
    }

    #[test]
    fn levels() {
        assert!(Level::Warning.enabled("notice"));
        assert!(!Level::Verbose.enabled("notice"));
        assert!(!Level::Warning.enabled("nothing"));
    }
}
