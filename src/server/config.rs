//! Server configuration: redis.conf syntax plus redis-server's `--directive value`
//! arguments, CONFIG GET/SET/REWRITE semantics (server.md §8).

use crate::resp::split_args;
use std::collections::HashMap;
use std::path::PathBuf;

/// How a parameter's value is parsed and printed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Bool,
    /// yes | no | local (enable-debug-command and friends).
    YesNoLocal,
    Int(i64, i64),
    Memory,
    Str,
    Enum(&'static [&'static str]),
    /// `save` points.
    Save,
    /// Several words kept as one space-separated string (bind, replicaof,
    /// client-output-buffer-limit, ...).
    Words,
}

pub const IMMUTABLE: u8 = 1;
pub const PROTECTED: u8 = 2;
pub const HIDDEN: u8 = 4;

pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub default: &'static str,
    pub kind: Kind,
    pub flags: u8,
}

const fn p(name: &'static str, default: &'static str, kind: Kind) -> Param {
    Param {
        name,
        aliases: &[],
        default,
        kind,
        flags: 0,
    }
}

const fn pa(
    name: &'static str,
    aliases: &'static [&'static str],
    default: &'static str,
    kind: Kind,
    flags: u8,
) -> Param {
    Param {
        name,
        aliases,
        default,
        kind,
        flags,
    }
}

const I32: Kind = Kind::Int(0, i32::MAX as i64);
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];

/// Every directive `vigil server` understands. Many are accepted for drop-in
/// compatibility with redis.conf files and only reported back by CONFIG GET.
pub static PARAMS: &[Param] = &[
    p("port", "6379", Kind::Int(0, 65535)),
    p("bind", "* -::*", Kind::Words),
    p("protected-mode", "yes", Kind::Bool),
    pa("tcp-backlog", &[], "511", I32, IMMUTABLE),
    pa("unixsocket", &[], "", Kind::Str, IMMUTABLE),
    pa("unixsocketperm", &[], "0", I32, IMMUTABLE),
    p("timeout", "0", I32),
    p("tcp-keepalive", "300", I32),
    pa("databases", &[], "16", Kind::Int(1, 1 << 20), IMMUTABLE),
    p("maxclients", "10000", Kind::Int(1, i32::MAX as i64)),
    p("requirepass", "", Kind::Str),
    p("masterauth", "", Kind::Str),
    p("masteruser", "", Kind::Str),
    pa("replicaof", &["slaveof"], "", Kind::Words, IMMUTABLE),
    pa(
        "replica-read-only",
        &["slave-read-only"],
        "yes",
        Kind::Bool,
        0,
    ),
    pa(
        "replica-serve-stale-data",
        &["slave-serve-stale-data"],
        "yes",
        Kind::Bool,
        0,
    ),
    pa("replica-priority", &["slave-priority"], "100", I32, 0),
    pa(
        "replica-announce-ip",
        &["slave-announce-ip"],
        "",
        Kind::Str,
        0,
    ),
    pa(
        "replica-announce-port",
        &["slave-announce-port"],
        "0",
        Kind::Int(0, 65535),
        0,
    ),
    p("replica-announced", "yes", Kind::Bool),
    pa(
        "replica-lazy-flush",
        &["slave-lazy-flush"],
        "no",
        Kind::Bool,
        0,
    ),
    p("repl-diskless-sync", "yes", Kind::Bool),
    p("repl-diskless-sync-delay", "5", I32),
    p("repl-diskless-sync-max-replicas", "0", I32),
    p(
        "repl-diskless-load",
        "disabled",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
    ),
    p("repl-backlog-size", "1048576", Kind::Memory),
    p("repl-backlog-ttl", "3600", I32),
    p("repl-timeout", "60", Kind::Int(1, i32::MAX as i64)),
    pa(
        "repl-ping-replica-period",
        &["repl-ping-slave-period"],
        "10",
        Kind::Int(1, i32::MAX as i64),
        0,
    ),
    p("repl-disable-tcp-nodelay", "no", Kind::Bool),
    pa(
        "min-replicas-to-write",
        &["min-slaves-to-write"],
        "0",
        I32,
        0,
    ),
    pa(
        "min-replicas-max-lag",
        &["min-slaves-max-lag"],
        "10",
        I32,
        0,
    ),
    p("save", "3600 1 300 100 60 10000", Kind::Save),
    pa("dir", &[], ".", Kind::Str, PROTECTED),
    pa("dbfilename", &[], "dump.rdb", Kind::Str, PROTECTED),
    p("stop-writes-on-bgsave-error", "yes", Kind::Bool),
    p("rdbcompression", "yes", Kind::Bool),
    p("rdbchecksum", "yes", Kind::Bool),
    p("rdb-del-sync-files", "no", Kind::Bool),
    p("appendonly", "no", Kind::Bool),
    p(
        "appendfsync",
        "everysec",
        Kind::Enum(&["always", "everysec", "no"]),
    ),
    pa(
        "appendfilename",
        &[],
        "appendonly.aof",
        Kind::Str,
        IMMUTABLE,
    ),
    pa("appenddirname", &[], "appendonlydir", Kind::Str, IMMUTABLE),
    p("no-appendfsync-on-rewrite", "no", Kind::Bool),
    p("auto-aof-rewrite-percentage", "100", I32),
    p("auto-aof-rewrite-min-size", "67108864", Kind::Memory),
    p("aof-load-truncated", "yes", Kind::Bool),
    p("aof-use-rdb-preamble", "yes", Kind::Bool),
    p("aof-timestamp-enabled", "no", Kind::Bool),
    p("maxmemory", "0", Kind::Memory),
    p("maxmemory-policy", "noeviction", Kind::Enum(POLICIES)),
    p("maxmemory-samples", "5", I32),
    p("maxmemory-eviction-tenacity", "10", Kind::Int(0, 100)),
    p("hz", "10", I32),
    p("dynamic-hz", "yes", Kind::Bool),
    p("active-expire-effort", "1", Kind::Int(1, 10)),
    p("lazyfree-lazy-eviction", "no", Kind::Bool),
    p("lazyfree-lazy-expire", "no", Kind::Bool),
    p("lazyfree-lazy-server-del", "no", Kind::Bool),
    p("lazyfree-lazy-user-del", "no", Kind::Bool),
    p("lazyfree-lazy-user-flush", "no", Kind::Bool),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Words,
    ),
    p("client-query-buffer-limit", "1073741824", Kind::Memory),
    p("proto-max-bulk-len", "536870912", Kind::Memory),
    pa("busy-reply-threshold", &["lua-time-limit"], "5000", I32, 0),
    p("shutdown-timeout", "10", I32),
    p("shutdown-on-sigint", "default", Kind::Words),
    p("shutdown-on-sigterm", "default", Kind::Words),
    pa(
        "enable-debug-command",
        &[],
        "no",
        Kind::YesNoLocal,
        IMMUTABLE,
    ),
    pa(
        "enable-module-command",
        &[],
        "no",
        Kind::YesNoLocal,
        IMMUTABLE,
    ),
    pa(
        "enable-protected-configs",
        &[],
        "no",
        Kind::YesNoLocal,
        IMMUTABLE,
    ),
    p("latency-tracking", "yes", Kind::Bool),
    p(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Words,
    ),
    p("loglevel", "notice", Kind::Enum(LOGLEVELS)),
    pa("logfile", &[], "", Kind::Str, IMMUTABLE),
    pa("pidfile", &[], "", Kind::Str, 0),
    pa("daemonize", &[], "no", Kind::Bool, IMMUTABLE),
    pa("supervised", &[], "no", Kind::Words, IMMUTABLE),
    p("syslog-enabled", "no", Kind::Bool),
    p("syslog-ident", "redis", Kind::Str),
    p("syslog-facility", "local0", Kind::Str),
    p("always-show-logo", "no", Kind::Bool),
    p("set-proc-title", "yes", Kind::Bool),
    p(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        Kind::Str,
    ),
    p("slowlog-log-slower-than", "10000", Kind::Int(-1, i64::MAX)),
    p("slowlog-max-len", "128", I32),
    p("latency-monitor-threshold", "0", Kind::Int(0, i64::MAX)),
    p("notify-keyspace-events", "", Kind::Str),
    p("hash-max-listpack-entries", "512", I32),
    p("hash-max-listpack-value", "64", I32),
    p("hash-max-ziplist-entries", "512", I32),
    p("hash-max-ziplist-value", "64", I32),
    p(
        "list-max-listpack-size",
        "-2",
        Kind::Int(i32::MIN as i64, i32::MAX as i64),
    ),
    p(
        "list-max-ziplist-size",
        "-2",
        Kind::Int(i32::MIN as i64, i32::MAX as i64),
    ),
    p("list-compress-depth", "0", I32),
    p("set-max-intset-entries", "512", I32),
    p("zset-max-listpack-entries", "128", I32),
    p("zset-max-listpack-value", "64", I32),
    p("zset-max-ziplist-entries", "128", I32),
    p("zset-max-ziplist-value", "64", I32),
    p("hll-sparse-max-bytes", "3000", Kind::Memory),
    p("stream-node-max-bytes", "4096", Kind::Memory),
    p("stream-node-max-entries", "100", I32),
    p("activerehashing", "yes", Kind::Bool),
    p("activedefrag", "no", Kind::Bool),
    p("jemalloc-bg-thread", "yes", Kind::Bool),
    p("io-threads", "1", Kind::Int(1, 128)),
    p("io-threads-do-reads", "no", Kind::Bool),
    p("lfu-log-factor", "10", I32),
    p("lfu-decay-time", "1", I32),
    p("oom-score-adj", "no", Kind::Words),
    p("oom-score-adj-values", "0 200 800", Kind::Words),
    p("disable-thp", "yes", Kind::Bool),
    p("crash-log-enabled", "yes", Kind::Bool),
    p("crash-memcheck-enabled", "yes", Kind::Bool),
    p("tracking-table-max-keys", "1000000", I32),
    p("acllog-max-len", "128", I32),
    p("aclfile", "", Kind::Str),
    // Accepted so that any redis.conf of Redis 7.0 loads; the features behind them
    // (active defrag, cluster, TLS, CPU pinning) are not in vigil server, and turning
    // cluster or TLS on is refused (see `refuse_unsupported`).
    p(
        "acl-pubsub-default",
        "resetchannels",
        Kind::Enum(&["allchannels", "resetchannels"]),
    ),
    p("active-defrag-cycle-max", "25", Kind::Int(1, 99)),
    p("active-defrag-cycle-min", "1", Kind::Int(1, 99)),
    p("active-defrag-ignore-bytes", "104857600", Kind::Memory),
    p("active-defrag-max-scan-fields", "1000", I32),
    p("active-defrag-threshold-lower", "10", Kind::Int(0, 1000)),
    p("active-defrag-threshold-upper", "100", Kind::Int(0, 1000)),
    p("aof-disable-auto-gc", "no", Kind::Bool),
    p("aof-rewrite-incremental-fsync", "yes", Kind::Bool),
    p("rdb-save-incremental-fsync", "yes", Kind::Bool),
    pa("aof_rewrite_cpulist", &[], "", Kind::Str, IMMUTABLE),
    pa("bgsave_cpulist", &[], "", Kind::Str, IMMUTABLE),
    pa("bio_cpulist", &[], "", Kind::Str, IMMUTABLE),
    pa("server_cpulist", &[], "", Kind::Str, IMMUTABLE),
    p("bind-source-addr", "", Kind::Str),
    p("maxmemory-clients", "0", Kind::Words),
    p(
        "propagation-error-behavior",
        "ignore",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
    ),
    p("replica-ignore-disk-write-errors", "no", Kind::Bool),
    pa(
        "replica-ignore-maxmemory",
        &["slave-ignore-maxmemory"],
        "yes",
        Kind::Bool,
        0,
    ),
    p("socket-mark-id", "0", I32),
    pa("cluster-enabled", &[], "no", Kind::Bool, IMMUTABLE),
    p("cluster-allow-pubsubshard-when-down", "yes", Kind::Bool),
    p("cluster-allow-reads-when-down", "no", Kind::Bool),
    p("cluster-allow-replica-migration", "yes", Kind::Bool),
    p("cluster-announce-bus-port", "0", Kind::Int(0, 65535)),
    p("cluster-announce-hostname", "", Kind::Str),
    p("cluster-announce-ip", "", Kind::Str),
    p("cluster-announce-port", "0", Kind::Int(0, 65535)),
    p("cluster-announce-tls-port", "0", Kind::Int(0, 65535)),
    pa(
        "cluster-config-file",
        &[],
        "nodes.conf",
        Kind::Str,
        IMMUTABLE,
    ),
    p("cluster-link-sendbuf-limit", "0", Kind::Memory),
    p("cluster-migration-barrier", "1", I32),
    p("cluster-node-timeout", "15000", I32),
    pa("cluster-port", &[], "0", Kind::Int(0, 65535), IMMUTABLE),
    p(
        "cluster-preferred-endpoint-type",
        "ip",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
    ),
    pa(
        "cluster-replica-no-failover",
        &["cluster-slave-no-failover"],
        "no",
        Kind::Bool,
        0,
    ),
    pa(
        "cluster-replica-validity-factor",
        &["cluster-slave-validity-factor"],
        "10",
        I32,
        0,
    ),
    p("cluster-require-full-coverage", "yes", Kind::Bool),
    p("tls-auth-clients", "yes", Kind::Words),
    p("tls-ca-cert-dir", "", Kind::Str),
    p("tls-ca-cert-file", "", Kind::Str),
    p("tls-cert-file", "", Kind::Str),
    p("tls-ciphers", "", Kind::Str),
    p("tls-ciphersuites", "", Kind::Str),
    p("tls-client-cert-file", "", Kind::Str),
    p("tls-client-key-file", "", Kind::Str),
    p("tls-client-key-file-pass", "", Kind::Str),
    p("tls-cluster", "no", Kind::Bool),
    p("tls-dh-params-file", "", Kind::Str),
    p("tls-key-file", "", Kind::Str),
    p("tls-key-file-pass", "", Kind::Str),
    p("tls-prefer-server-ciphers", "no", Kind::Bool),
    p("tls-protocols", "", Kind::Str),
    p("tls-replication", "no", Kind::Bool),
    p("tls-session-cache-size", "20480", I32),
    p("tls-session-cache-timeout", "300", I32),
    p("tls-session-caching", "yes", Kind::Bool),
    p("lua-replicate-commands", "yes", Kind::Bool),
    p("sanitize-dump-payload", "no", Kind::Words),
    p("ignore-warnings", "", Kind::Str),
    p("tls-port", "0", Kind::Int(0, 65535)),
    // Vigil's own (beyond Redis): write fencing, off by default.
    p("vigil-fencing", "no", Kind::Bool),
    // Leases held by this many distinct sentinels allow writes (a majority of them).
    p("vigil-fencing-quorum", "2", Kind::Int(1, 1000)),
    // Longest lease one grant gives; sentinels also cap it below down-after.
    p("vigil-fencing-lease-ms", "1000", Kind::Int(10, 3_600_000)),
    // Vigil's own (beyond Redis): a write is acknowledged only once this many
    // replicas confirmed it (see `server::sync_ack`); 0 = Redis's asynchronous
    // replication.
    p("vigil-sync-replicas", "0", Kind::Int(0, 1000)),
    p("vigil-sync-timeout-ms", "1000", Kind::Int(1, 3_600_000)),
];

/// Values that would turn on a Redis feature `vigil server` does not have: refused with
/// a clear reason (at start-up and by CONFIG SET) instead of being silently ignored.
fn refuse_unsupported(name: &str, value: &str) -> Result<(), String> {
    let reason = match (name, value) {
        ("appendonly", "yes") => "appendonly yes is not supported by vigil server (no AOF yet)",
        ("cluster-enabled", "yes") => {
            "cluster-enabled yes is not supported by vigil server (no cluster mode)"
        }
        ("tls-port", v) if v != "0" => "tls-port is not supported by vigil server (no TLS)",
        ("tls-replication" | "tls-cluster", "yes") => {
            "TLS is not supported by vigil server (tls-replication/tls-cluster must be no)"
        }
        _ => return Ok(()),
    };
    Err(reason.to_string())
}

/// Look a parameter up by name or alias (case-insensitive).
pub fn find_param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    PARAMS
        .iter()
        .find(|p| p.name == lower || p.aliases.contains(&lower.as_str()))
}

/// Hot-path settings, mirrored from the string values after every change.
#[derive(Clone, Debug, Default)]
pub struct Hot {
    pub requirepass: Option<String>,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub min_replicas_to_write: i64,
    pub min_replicas_max_lag: i64,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    pub databases: usize,
    pub debug_command: String,
    pub maxclients: usize,
    pub protected_mode: bool,
    pub timeout: u64,
    /// `vigil-fencing` and its quorum / longest lease (see `server::fencing`).
    pub fencing: bool,
    pub fencing_quorum: usize,
    pub fencing_lease_ms: u64,
    /// `vigil-sync-replicas` / `vigil-sync-timeout-ms` (see `server::sync_ack`).
    pub sync_replicas: i64,
    pub sync_timeout_ms: u64,
    /// `slowlog-log-slower-than` in µs; `u64::MAX` when negative (disabled).
    pub slowlog_slower_than: u64,
    pub slowlog_max_len: usize,
    /// `latency-monitor-threshold` in µs; `u64::MAX` when 0 (off).
    pub latency_threshold_us: u64,
    pub latency_tracking: bool,
}

#[derive(Clone, Debug)]
pub struct Config {
    values: HashMap<&'static str, String>,
    /// Extra lines we keep but do not interpret (rename-command, include, user...).
    pub file: Option<PathBuf>,
    pub hot: Hot,
}

/// A configuration problem: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: String,
    pub line_no: usize,
    pub line: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "config error in {} at line {}: >>> '{}': {}",
            self.origin, self.line_no, self.line, self.reason
        )
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config {
            values: PARAMS
                .iter()
                .map(|p| (p.name, p.default.to_string()))
                .collect(),
            file: None,
            hot: Hot::default(),
        };
        c.refresh_hot();
        c
    }
}

/// Parse a memory value (`1gb`, `100mb`, `5k`, plain bytes) like Redis's memtoull.
pub fn parse_memory(s: &str) -> Option<i64> {
    let l = s.to_ascii_lowercase();
    let (num, mul): (&str, i64) = if let Some(n) = l.strip_suffix("gb") {
        (n, 1 << 30)
    } else if let Some(n) = l.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = l.strip_suffix("kb") {
        (n, 1 << 10)
    } else if let Some(n) = l.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = l.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = l.strip_suffix('k') {
        (n, 1000)
    } else if let Some(n) = l.strip_suffix('b') {
        (n, 1)
    } else {
        (l.as_str(), 1)
    };
    let v: i64 = num.parse().ok()?;
    if v < 0 {
        return None;
    }
    v.checked_mul(mul)
}

/// Redis's largest-exact-unit rendering for CONFIG REWRITE.
fn memory_for_file(bytes: i64) -> String {
    for (unit, size) in [("gb", 1i64 << 30), ("mb", 1 << 20), ("kb", 1 << 10)] {
        if bytes != 0 && bytes % size == 0 {
            return format!("{}{}", bytes / size, unit);
        }
    }
    bytes.to_string()
}

impl Param {
    /// Validate and normalize `args` (the words after the name) into the stored form.
    /// The error is the tail of Redis's CONFIG SET error text.
    pub fn normalize(&self, args: &[String]) -> Result<String, String> {
        let one = || -> Result<&String, String> {
            if args.len() == 1 {
                Ok(&args[0])
            } else {
                Err("wrong number of arguments".to_string())
            }
        };
        match self.kind {
            Kind::Bool => match one()?.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::YesNoLocal => match one()?.to_ascii_lowercase().as_str() {
                v @ ("yes" | "no" | "local") => Ok(v.into()),
                _ => Err("argument(s) must be one of the following: no, yes, local".into()),
            },
            Kind::Int(min, max) => {
                let v: i64 = one()?
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(v.to_string())
            }
            Kind::Memory => parse_memory(one()?)
                .map(|v| v.to_string())
                .ok_or_else(|| "argument must be a memory value".into()),
            Kind::Str => Ok(one()?.clone()),
            Kind::Enum(options) => {
                let v = one()?.to_ascii_lowercase();
                if options.contains(&v.as_str()) {
                    Ok(v)
                } else {
                    Err(format!(
                        "argument(s) must be one of the following: {}",
                        options.join(", ")
                    ))
                }
            }
            Kind::Save => {
                // Stored as numbers (Redis keeps them as integers: `300 010` reads
                // back as `300 10`), so a rewrite loads to the same value.
                let words: Vec<u64> = args
                    .iter()
                    .flat_map(|a| a.split_whitespace())
                    .map(|w| w.parse::<u64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| "Invalid save parameters".to_string())?;
                if !words.len().is_multiple_of(2) {
                    return Err("Invalid save parameters".into());
                }
                let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                Ok(words.join(" "))
            }
            Kind::Words => Ok(args.join(" ")),
        }
    }
}

impl Config {
    pub fn get(&self, name: &str) -> &str {
        find_param(name)
            .and_then(|p| self.values.get(p.name))
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Save points as (seconds, changes).
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        let w: Vec<u64> = self
            .get("save")
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        w.chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0], c[1]))
            .collect()
    }

    /// `replicaof` as (host, port), if set.
    pub fn replicaof(&self) -> Option<(String, u16)> {
        let v = self.get("replicaof");
        let mut it = v.split_whitespace();
        let host = it.next()?;
        let port = it.next()?.parse().ok()?;
        if host.eq_ignore_ascii_case("no") {
            return None;
        }
        Some((host.to_string(), port))
    }

    /// Set a value without mutability checks (startup, REPLICAOF, internal use).
    pub fn set_raw(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let param = find_param(name)
            .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let v = param.normalize(args)?;
        self.values.insert(param.name, v);
        self.refresh_hot();
        Ok(())
    }

    pub fn refresh_hot(&mut self) {
        let rp = self.get("requirepass").to_string();
        self.hot = Hot {
            requirepass: if rp.is_empty() { None } else { Some(rp) },
            replica_read_only: self.get_bool("replica-read-only"),
            replica_serve_stale_data: self.get_bool("replica-serve-stale-data"),
            min_replicas_to_write: self.get_i64("min-replicas-to-write"),
            min_replicas_max_lag: self.get_i64("min-replicas-max-lag"),
            proto_max_bulk_len: self.get_i64("proto-max-bulk-len").max(1 << 20) as usize,
            client_query_buffer_limit: self.get_i64("client-query-buffer-limit").max(1 << 20)
                as usize,
            databases: self.get_i64("databases").max(1) as usize,
            debug_command: self.get("enable-debug-command").to_string(),
            maxclients: self.get_i64("maxclients").max(1) as usize,
            protected_mode: self.get_bool("protected-mode"),
            timeout: self.get_i64("timeout").max(0) as u64,
            fencing: self.get_bool("vigil-fencing"),
            fencing_quorum: self.get_i64("vigil-fencing-quorum").max(1) as usize,
            fencing_lease_ms: self.get_i64("vigil-fencing-lease-ms").max(1) as u64,
            sync_replicas: self.get_i64("vigil-sync-replicas").max(0),
            sync_timeout_ms: self.get_i64("vigil-sync-timeout-ms").max(1) as u64,
            slowlog_slower_than: u64::try_from(self.get_i64("slowlog-log-slower-than"))
                .unwrap_or(u64::MAX),
            slowlog_max_len: self.get_i64("slowlog-max-len").max(0) as usize,
            latency_threshold_us: match self.get_i64("latency-monitor-threshold") {
                ms if ms <= 0 => u64::MAX,
                ms => (ms as u64).saturating_mul(1000),
            },
            latency_tracking: self.get_bool("latency-tracking"),
        };
    }

    /// Load from redis-server's command line: `[CONFIG] [--name value ...]`.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut rest = args;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let path = PathBuf::from(first);
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                    origin: first.clone(),
                    line_no: 0,
                    line: String::new(),
                    reason: format!("Fatal error, can't open config file '{first}': {e}"),
                })?;
                config.load_text(&text, first)?;
                config.file = Some(std::fs::canonicalize(&path).unwrap_or(path));
                rest = &args[1..];
            }
        }
        // Each `--name` starts a directive; following words are its arguments.
        let mut lines: Vec<Vec<String>> = Vec::new();
        for a in rest {
            if let Some(name) = a.strip_prefix("--") {
                lines.push(vec![name.to_string()]);
            } else if let Some(last) = lines.last_mut() {
                last.push(a.clone());
            } else {
                return Err(ConfigError {
                    origin: "command line".into(),
                    line_no: 0,
                    line: a.clone(),
                    reason: "expected --directive before a value".into(),
                });
            }
        }
        for (i, words) in lines.iter().enumerate() {
            config.apply_words(words).map_err(|reason| ConfigError {
                origin: "command line".into(),
                line_no: i + 1,
                line: words.join(" "),
                reason,
            })?;
        }
        config.refresh_hot();
        Ok(config)
    }

    /// Apply the lines of a redis.conf text.
    pub fn load_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let mut seen_save = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: String| ConfigError {
                origin: origin.to_string(),
                line_no: i + 1,
                line: line.to_string(),
                reason,
            };
            let words: Vec<String> = split_args(line.as_bytes())
                .ok_or_else(|| err("Unbalanced quotes in configuration line".into()))?
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            if words.is_empty() {
                continue;
            }
            // Repeated `save` lines accumulate, like Redis.
            if words[0].eq_ignore_ascii_case("save") && words.len() == 3 {
                let prev = if seen_save {
                    self.get("save").to_string()
                } else {
                    String::new()
                };
                seen_save = true;
                let joined = format!("{prev} {} {}", words[1], words[2]);
                self.apply_words(&["save".to_string(), joined.trim().to_string()])
                    .map_err(err)?;
                continue;
            }
            self.apply_words(&words).map_err(err)?;
        }
        self.refresh_hot();
        Ok(())
    }

    fn apply_words(&mut self, words: &[String]) -> Result<(), String> {
        let name = words[0].to_ascii_lowercase();
        let args = &words[1..];
        match name.as_str() {
            // Accepted and ignored directives that have no parameter of their own.
            "include" | "rename-command" | "user" | "loadmodule" => return Ok(()),
            "replicaof" | "slaveof" => {
                if args.len() != 2 {
                    return Err("Bad directive or wrong number of arguments".into());
                }
                if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                    self.values.insert("replicaof", String::new());
                    return Ok(());
                }
                if args[1].parse::<u16>().is_err() {
                    return Err("Invalid master port".into());
                }
            }
            _ => {}
        }
        let param = find_param(&name)
            .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let v = param.normalize(args)?;
        refuse_unsupported(param.name, &v)?;
        self.values.insert(param.name, v);
        Ok(())
    }

    /// CONFIG SET semantics for several pairs: all or nothing.
    pub fn config_set(&mut self, pairs: &[(String, String)]) -> Result<(), String> {
        let backup = self.values.clone();
        let mut seen: Vec<&'static str> = Vec::new();
        for (name, value) in pairs {
            let Some(param) = find_param(name) else {
                self.values = backup;
                return Err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            let fail = |why: &str| {
                format!("CONFIG SET failed (possibly related to argument '{name}') - {why}")
            };
            let result = if param.flags & IMMUTABLE != 0 {
                Err(fail("can't set immutable config"))
            } else if param.flags & PROTECTED != 0 && self.get("enable-protected-configs") == "no" {
                Err(fail("can't set protected config"))
            } else if seen.contains(&param.name) {
                Err(fail("duplicate parameter"))
            } else {
                let words = if matches!(param.kind, Kind::Save | Kind::Words) {
                    value
                        .split_whitespace()
                        .map(String::from)
                        .collect::<Vec<_>>()
                } else {
                    vec![value.clone()]
                };
                param
                    .normalize(&words)
                    .and_then(|v| refuse_unsupported(param.name, &v).map(|()| v))
                    .map_err(|e| fail(&e))
            };
            match result {
                Ok(v) => {
                    seen.push(param.name);
                    self.values.insert(param.name, v);
                }
                Err(e) => {
                    self.values = backup;
                    return Err(e);
                }
            }
        }
        self.refresh_hot();
        Ok(())
    }

    /// CONFIG GET: (name as matched, value) pairs for the given patterns.
    pub fn config_get(&self, patterns: &[String]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let push = |out: &mut Vec<(String, String)>, k: String, v: String| {
            if !out.iter().any(|(x, _)| *x == k) {
                out.push((k, v));
            }
        };
        for pat in patterns {
            if !pat.contains(['*', '?', '[']) {
                if let Some(param) = find_param(pat) {
                    push(&mut out, pat.clone(), self.display_value(param));
                }
                continue;
            }
            for param in PARAMS.iter().filter(|p| p.flags & HIDDEN == 0) {
                for name in std::iter::once(&param.name).chain(param.aliases.iter()) {
                    if crate::server::glob::glob_match(
                        pat.to_ascii_lowercase().as_bytes(),
                        name.as_bytes(),
                    ) {
                        push(&mut out, name.to_string(), self.display_value(param));
                    }
                }
            }
        }
        out
    }

    fn display_value(&self, param: &Param) -> String {
        let v = self.values.get(param.name).cloned().unwrap_or_default();
        if param.name == "dir" {
            return std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or(v);
        }
        v
    }

    /// The lines CONFIG REWRITE writes for one parameter (empty: none).
    fn rewrite_lines(&self, param: &Param) -> Vec<String> {
        let v = self.display_value(param);
        match param.kind {
            Kind::Save => {
                let pts = self.save_points();
                if pts.is_empty() {
                    vec!["save \"\"".into()]
                } else {
                    pts.iter().map(|(s, c)| format!("save {s} {c}")).collect()
                }
            }
            Kind::Memory => vec![format!(
                "{} {}",
                param.name,
                memory_for_file(v.parse().unwrap_or(0))
            )],
            Kind::Str => vec![format!("{} {}", param.name, quote(&v))],
            _ if param.name == "replicaof" => {
                if v.is_empty() {
                    vec![]
                } else {
                    vec![format!("replicaof {v}")]
                }
            }
            _ => vec![format!("{} {}", param.name, v)],
        }
    }

    /// CONFIG REWRITE, following Redis's algorithm: known directives replaced in place,
    /// non-default new ones appended after `# Generated by CONFIG REWRITE`, comments
    /// and unknown lines kept, written atomically.
    pub fn rewrite(&self) -> Result<(), String> {
        let path = self
            .file
            .as_ref()
            .ok_or_else(|| "The server is running without a config file".to_string())?;
        let old =
            std::fs::read_to_string(path).map_err(|e| format!("Rewriting config file: {e}"))?;
        let text = self.rewrite_text(&old);
        crate::util::fsutil::write_atomic(path, text.as_bytes())
            .map_err(|e| format!("Rewriting config file: {e}"))
    }

    /// The new file text for CONFIG REWRITE, given the old text.
    pub fn rewrite_text(&self, old: &str) -> String {
        let mut lines: Vec<Option<String>> = Vec::new();
        let mut index: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for raw in old.lines() {
            let line = raw.trim_end_matches(['\r', '\n', '\t', ' ']);
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Some(line.to_string()));
                continue;
            }
            let first = trimmed
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match find_param(&first) {
                Some(param) => {
                    index.entry(param.name).or_default().push(lines.len());
                    lines.push(Some(line.to_string()));
                }
                None if matches!(
                    first.as_str(),
                    "include" | "rename-command" | "user" | "loadmodule" | "sentinel"
                ) =>
                {
                    lines.push(Some(line.to_string()))
                }
                None => lines.push(Some(format!("# ??? {line}"))),
            }
        }
        let mut appended: Vec<String> = Vec::new();
        for param in PARAMS {
            let new_lines = self.rewrite_lines(param);
            let slots = index.remove(param.name).unwrap_or_default();
            let is_default = self.values.get(param.name).map(String::as_str) == Some(param.default)
                && param.name != "dir";
            let mut it = new_lines.into_iter();
            for slot in &slots {
                lines[*slot] = it.next();
            }
            if slots.is_empty() && (is_default || param.name == "dir") {
                continue;
            }
            appended.extend(it);
        }
        let mut out: Vec<String> = lines.into_iter().map(|l| l.unwrap_or_default()).collect();
        if !appended.is_empty() {
            if !out.iter().any(|l| l == "# Generated by CONFIG REWRITE") {
                out.push(String::new());
                out.push("# Generated by CONFIG REWRITE".into());
            }
            out.extend(appended);
        }
        // Collapse runs of empty lines.
        let mut text = String::new();
        let mut prev_empty = false;
        for l in out {
            let empty = l.is_empty();
            if empty && prev_empty {
                continue;
            }
            prev_empty = empty;
            text.push_str(&l);
            text.push('\n');
        }
        text
    }

    /// Resolve a config-file-relative setting: the data directory.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.get("dir"))
    }

    pub fn db_path(&self) -> PathBuf {
        PathBuf::from(self.get("dbfilename"))
    }
}

/// Quote a string for a config file, escaping like Redis's sdscatrepr (always quoted).
pub use crate::util::quote::repr as quote;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_like_redis_server() {
        let c = Config::from_args(&args(&[
            "--port",
            "6380",
            "--replicaof",
            "127.0.0.1",
            "6379",
            "--save",
            "",
        ]))
        .unwrap();
        assert_eq!(c.get("port"), "6380");
        assert_eq!(c.replicaof(), Some(("127.0.0.1".into(), 6379)));
        assert!(c.save_points().is_empty());
        assert_eq!(c.get("slaveof"), "127.0.0.1 6379");
    }

    #[test]
    fn bad_directive_names_line() {
        let mut c = Config::default();
        let e = c.load_text("port 1\nfoo bar\n", "x.conf").unwrap_err();
        assert_eq!(e.line_no, 2);
        assert!(e.to_string().contains("x.conf"));
        let e = c.load_text("port notanumber\n", "x.conf").unwrap_err();
        assert!(e.reason.contains("integer"));
        let e = c.load_text("appendonly yes\n", "x.conf").unwrap_err();
        assert!(e.reason.contains("AOF"));
    }

    #[test]
    fn config_set_is_atomic() {
        let mut c = Config::default();
        let e = c
            .config_set(&[
                ("maxmemory".into(), "5mb".into()),
                ("hz".into(), "abc".into()),
            ])
            .unwrap_err();
        assert!(e.contains("'hz'"), "{e}");
        assert_eq!(c.get("maxmemory"), "0");
        c.config_set(&[("maxmemory".into(), "5mb".into())]).unwrap();
        assert_eq!(c.get("maxmemory"), "5242880");
        assert!(c
            .config_set(&[("databases".into(), "3".into())])
            .unwrap_err()
            .contains("immutable"));
    }

    #[test]
    fn rewrite_like_redis() {
        let old = "# my comment at top\nport 43006\nbind 127.0.0.1\n\n# persistence\nsave 900 1\nsave 300 10\nslaveof 127.0.0.1 43001\nMaxmemory 100mb\nfrobnicate 1\n";
        let mut c = Config::default();
        c.load_text(&old.replace("frobnicate 1\n", ""), "t")
            .unwrap();
        c.config_set(&[
            ("maxmemory".into(), "200mb".into()),
            ("hz".into(), "20".into()),
            ("save".into(), "60 5".into()),
        ])
        .unwrap();
        let t = c.rewrite_text(old);
        assert!(
            t.starts_with(
                "# my comment at top\nport 43006\nbind 127.0.0.1\n\n# persistence\nsave 60 5\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("replicaof 127.0.0.1 43001\nmaxmemory 200mb\n# ??? frobnicate 1\n"),
            "{t}"
        );
        assert!(t.contains("# Generated by CONFIG REWRITE\n"));
        assert!(t.contains("\nhz 20\n"));
        c.set_raw("replicaof", &args(&[])).unwrap();
        let t2 = c.rewrite_text(&t);
        assert!(!t2.contains("replicaof"), "{t2}");
    }
}
