//! INFO: the sections, field names and order of redis-server 7.0 (server.md §7).
//!
//! `INFO` with no argument gives the default set; `default`, `all`, `everything` and
//! any list of section names (case-insensitive, duplicates ignored) are accepted.
//! Sections always come out in Redis's fixed order. The replication section belongs
//! to the replication module (`replication::info_section`).

use super::client::ClientKind;
use super::state::State;
use crate::util::proc_stats::{cpu_seconds, rss_bytes};
use std::collections::HashSet;
use std::fmt::Write;
use std::time::Instant;

/// Every section in output order, and whether it belongs to the default set.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections a list of INFO arguments selects.
pub fn select_sections(args: &[String]) -> HashSet<&'static str> {
    let mut out = HashSet::new();
    if args.is_empty() {
        out.extend(SECTIONS.iter().filter(|s| s.1).map(|s| s.0));
        return out;
    }
    for a in args {
        let a = a.to_ascii_lowercase();
        match a.as_str() {
            "default" => out.extend(SECTIONS.iter().filter(|s| s.1).map(|s| s.0)),
            "all" | "everything" => out.extend(SECTIONS.iter().map(|s| s.0)),
            other => {
                if let Some((name, _)) = SECTIONS.iter().find(|s| s.0 == other) {
                    out.insert(*name);
                }
            }
        }
    }
    out
}

/// The INFO text for the given arguments (an empty string for unknown sections).
pub fn info_text(state: &State, args: &[String]) -> String {
    let wanted = select_sections(args);
    let mut parts: Vec<String> = Vec::new();
    for (name, _) in SECTIONS {
        if !wanted.contains(name) {
            continue;
        }
        let text = match *name {
            "server" => server(state),
            "clients" => clients(state),
            "memory" => memory(state),
            "persistence" => persistence(state),
            "stats" => stats(state),
            "replication" => {
                // Vigil's fencing fields follow Redis's (only when fencing is on).
                let mut s = super::replication::info_section(state);
                s.push_str(&super::fencing::info_fields(state));
                s
            }
            "cpu" => cpu(),
            "modules" => "# Modules\r\n".to_string(),
            "commandstats" => commandstats(state),
            "errorstats" => errorstats(state),
            "latencystats" => "# Latencystats\r\n".to_string(),
            "cluster" => "# Cluster\r\ncluster_enabled:0\r\n".to_string(),
            "keyspace" => keyspace(state),
            _ => continue,
        };
        parts.push(text);
    }
    parts.join("\r\n")
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

fn uname() -> (String, String, String) {
    // SAFETY: uname fills the zeroed struct; the fields are NUL-terminated C strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return ("Linux".into(), String::new(), String::new());
    }
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (s(&u.sysname), s(&u.release), s(&u.machine))
}

fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn server(st: &State) -> String {
    let config_file = st
        .config
        .file
        .as_ref()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .unwrap_or_default();
    server_section(&ServerFields {
        mode: "standalone",
        supervised: crate::util::process::Supervision::resolve(st.config.get("supervised")).name(),
        run_id: &st.run_id,
        port: st.port,
        uptime: st.started.elapsed().as_secs(),
        hz: st.config.get_i64("hz"),
        config_file: &config_file,
    })
}

/// What the `# Server` section shows of a server or a sentinel.
pub(crate) struct ServerFields<'a> {
    /// `standalone` or `sentinel`.
    pub mode: &'a str,
    pub supervised: &'a str,
    pub run_id: &'a str,
    pub port: u16,
    pub uptime: u64,
    pub hz: i64,
    pub config_file: &'a str,
}

/// The `# Server` section, fields in Redis 7.0's order.
pub(crate) fn server_section(f: &ServerFields) -> String {
    let (sys, rel, mach) = uname();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut s = String::from("# Server\r\n");
    let _ = write!(
        s,
        "redis_version:{ver}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n\
         redis_mode:{mode}\r\nos:{sys} {rel} {mach}\r\narch_bits:{bits}\r\n\
         monotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n\
         gcc_version:0.0.0\r\nprocess_id:{pid}\r\nprocess_supervised:{supervised}\r\nrun_id:{run_id}\r\n\
         tcp_port:{port}\r\nserver_time_usec:{now}\r\nuptime_in_seconds:{uptime}\r\n\
         uptime_in_days:{days}\r\nhz:{hz}\r\nconfigured_hz:{hz}\r\nlru_clock:{lru}\r\n\
         executable:{exe}\r\nconfig_file:{config_file}\r\nio_threads_active:0\r\n",
        ver = super::REDIS_VERSION,
        mode = f.mode,
        bits = usize::BITS,
        pid = std::process::id(),
        supervised = f.supervised,
        run_id = f.run_id,
        port = f.port,
        now = unix_micros(),
        uptime = f.uptime,
        days = f.uptime / 86400,
        hz = f.hz,
        config_file = f.config_file,
        lru = (unix_micros() / 1_000_000) as u64 & ((1 << 24) - 1),
    );
    s
}

fn clients(st: &State) -> String {
    let connected = st
        .clients
        .entries
        .values()
        .filter(|e| e.kind != ClientKind::Replica)
        .count();
    let blocked = st.clients.entries.values().filter(|e| e.blocked).count();
    format!(
        "# Clients\r\nconnected_clients:{connected}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
         client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n\
         blocked_clients:{blocked}\r\ntracking_clients:0\r\nclients_in_timeout_table:{blocked}\r\n",
        st.config.hot.maxclients
    )
}

/// Memory figures. Vigil does not count allocations, so `used_memory` is the
/// process's resident set size (as `used_memory_rss`), which is what limits it.
fn memory(st: &State) -> String {
    let rss = rss_bytes();
    let used = rss;
    let peak = {
        let mut p = PEAK.lock();
        *p = (*p).max(used);
        *p
    };
    let total = total_system_memory();
    let maxmemory = st.config.get_i64("maxmemory").max(0) as u64;
    let policy = st.config.get("maxmemory-policy").to_string();
    let backlog = st.config.get_i64("repl-backlog-size").max(0);
    let mut s = String::from("# Memory\r\n");
    let _ = write!(
        s,
        "used_memory:{used}\r\nused_memory_human:{uh}\r\nused_memory_rss:{rss}\r\n\
         used_memory_rss_human:{rh}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{ph}\r\n\
         used_memory_peak_perc:{pp:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\n\
         used_memory_dataset:{used}\r\nused_memory_dataset_perc:100.00%\r\n\
         allocator_allocated:{used}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\n\
         total_system_memory:{total}\r\ntotal_system_memory_human:{th}\r\n\
         used_memory_lua:31744\r\nused_memory_vm_eval:31744\r\nused_memory_lua_human:31.00K\r\n\
         used_memory_scripts_eval:0\r\nnumber_of_cached_scripts:0\r\nnumber_of_functions:0\r\n\
         number_of_libraries:0\r\nused_memory_vm_functions:32768\r\nused_memory_vm_total:64512\r\n\
         used_memory_vm_total_human:63.00K\r\nused_memory_functions:0\r\nused_memory_scripts:0\r\n\
         used_memory_scripts_human:0B\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{mh}\r\n\
         maxmemory_policy:{policy}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\n\
         allocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\n\
         rss_overhead_bytes:0\r\nmem_fragmentation_ratio:1.00\r\nmem_fragmentation_bytes:0\r\n\
         mem_not_counted_for_evict:0\r\nmem_replication_backlog:{backlog}\r\n\
         mem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:0\r\n\
         mem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:libc\r\nactive_defrag_running:0\r\n\
         lazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
        uh = human(used),
        rh = human(rss),
        ph = human(peak),
        pp = if peak > 0 {
            used as f64 * 100.0 / peak as f64
        } else {
            100.0
        },
        th = human(total),
        mh = human(maxmemory),
    );
    s
}

static PEAK: parking_lot::Mutex<u64> = parking_lot::Mutex::new(0);

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn persistence(st: &State) -> String {
    let loading = st.loading as u8;
    let p = &st.repl.persist;
    let aof = (st.config.get("appendonly") == "yes") as u8;
    let changes = st.dirty().saturating_sub(p.dirty_at_save);
    let bgsave_now = p
        .bgsave_started
        .filter(|_| p.bgsave_in_progress)
        .map(|t| t.elapsed().as_secs() as i64)
        .unwrap_or(-1);
    format!(
        "# Persistence\r\nloading:{loading}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\n\
         current_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n\
         current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n\
         rdb_changes_since_last_save:{changes}\r\nrdb_bgsave_in_progress:{}\r\n\
         rdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\n\
         rdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{bgsave_now}\r\nrdb_saves:{}\r\n\
         rdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\n\
         aof_enabled:{aof}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n\
         aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n\
         aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\n\
         aof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n\
         module_fork_last_cow_size:0\r\n",
        p.bgsave_in_progress as u8,
        st.lastsave,
        if p.last_save_ok { "ok" } else { "err" },
        p.last_bgsave_secs,
        p.bgsaves,
    )
}

/// INFO's instantaneous rates (sampled at INFO time: `util::rates`).
static RATES: parking_lot::Mutex<crate::util::rates::Rates> =
    parking_lot::Mutex::new(crate::util::rates::Rates::new());

fn rates(st: &State) -> crate::util::rates::Figures {
    let s = &st.stats;
    RATES.lock().sample(
        Instant::now(),
        crate::util::rates::Counts {
            commands: s.total_commands_processed,
            input: s.total_net_input_bytes,
            output: s.total_net_output_bytes,
        },
    )
}

fn stats(st: &State) -> String {
    let s = &st.stats;
    stats_section(&StatsFields {
        connections: s.total_connections_received,
        commands: s.total_commands_processed,
        rates: rates(st),
        net_input: s.total_net_input_bytes,
        net_output: s.total_net_output_bytes,
        rejected: s.rejected_connections,
        sync: (s.sync_full, s.sync_partial_ok, s.sync_partial_err),
        expired_keys: s.expired_keys,
        evicted_keys: s.evicted_keys,
        keyspace: (s.keyspace_hits, s.keyspace_misses),
        pubsub: (st.pubsub.channels.len(), st.pubsub.patterns.len()),
        error_replies: s.total_error_replies,
        reads_writes: (0, 0),
    })
}

/// What the `# Stats` section shows of a server or a sentinel.
pub(crate) struct StatsFields {
    pub connections: u64,
    pub commands: u64,
    pub rates: crate::util::rates::Figures,
    pub net_input: u64,
    pub net_output: u64,
    pub rejected: u64,
    /// Full syncs, partial syncs accepted and refused.
    pub sync: (u64, u64, u64),
    pub expired_keys: u64,
    pub evicted_keys: u64,
    /// Hits, misses.
    pub keyspace: (u64, u64),
    /// Channels, patterns.
    pub pubsub: (usize, usize),
    pub error_replies: u64,
    /// Read and write events processed (`total_reads_processed`, `..._writes_...`).
    pub reads_writes: (u64, u64),
}

/// The `# Stats` section, fields in Redis 7.0's order.
pub(crate) fn stats_section(f: &StatsFields) -> String {
    let (ops, in_kbps, out_kbps) = f.rates;
    format!(
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{ops}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
         total_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\n\
         instantaneous_input_kbps:{in_kbps:.2}\r\ninstantaneous_output_kbps:{out_kbps:.2}\r\n\
         instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\n\
         rejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n\
         expired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\n\
         expire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\n\
         total_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\n\
         keyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\n\
         pubsub_patterns:{}\r\npubsubshard_channels:0\r\nlatest_fork_usec:0\r\n\
         total_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\n\
         active_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\n\
         active_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\n\
         tracking_total_keys:0\r\ntracking_total_items:0\r\ntracking_total_prefixes:0\r\n\
         unexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\n\
         total_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\n\
         io_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
        f.connections,
        f.commands,
        f.net_input,
        f.net_output,
        f.rejected,
        f.sync.0,
        f.sync.1,
        f.sync.2,
        f.expired_keys,
        f.evicted_keys,
        f.keyspace.0,
        f.keyspace.1,
        f.pubsub.0,
        f.pubsub.1,
        f.error_replies,
        f.reads_writes.0,
        f.reads_writes.1,
    )
}

/// The `# CPU` section (a server's and a sentinel's).
pub(crate) fn cpu() -> String {
    let (user, sys) = cpu_seconds();
    format!(
        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\n\
         used_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\n\
         used_cpu_user_main_thread:{user:.6}\r\n"
    )
}

/// `#`, `:`, CR and LF in names embedded in field names become `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn commandstats(st: &State) -> String {
    let mut names: Vec<&String> = st.stats.commands.keys().collect();
    names.sort();
    let mut s = String::from("# Commandstats\r\n");
    for name in names {
        let c = &st.stats.commands[name];
        let per = if c.calls > 0 {
            c.usec as f64 / c.calls as f64
        } else {
            0.0
        };
        let _ = write!(
            s,
            "cmdstat_{}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
            sanitize(name),
            c.calls,
            c.usec,
            c.rejected_calls,
            c.failed_calls
        );
    }
    s
}

fn errorstats(st: &State) -> String {
    let mut names: Vec<&String> = st.stats.errors.keys().collect();
    names.sort();
    let mut s = String::from("# Errorstats\r\n");
    for name in names {
        let prefix: String = sanitize(name).chars().take(32).collect();
        let _ = write!(s, "errorstat_{prefix}:count={}\r\n", st.stats.errors[name]);
    }
    s
}

fn keyspace(st: &State) -> String {
    let mut s = String::from("# Keyspace\r\n");
    let now = crate::server::state::unix_ms();
    for (i, db) in st.dbs.iter().enumerate() {
        if db.map.is_empty() && db.expires.is_empty() {
            continue;
        }
        // Average remaining TTL over (at most 64) keys with an expiry.
        let sample: Vec<i64> = db
            .expires
            .values()
            .take(64)
            .map(|&t| (t - now).max(0))
            .collect();
        let avg = if sample.is_empty() {
            0
        } else {
            sample.iter().sum::<i64>() / sample.len() as i64
        };
        let _ = write!(
            s,
            "db{i}:keys={},expires={},avg_ttl={avg}\r\n",
            db.map.len(),
            db.expires.len()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_excludes_commandstats() {
        let s = select_sections(&[]);
        assert!(s.contains("server") && s.contains("keyspace"));
        assert!(!s.contains("commandstats"));
        let all = select_sections(&["ALL".to_string()]);
        assert!(all.contains("commandstats"));
        let two = select_sections(&["Replication".into(), "clients".into(), "clients".into()]);
        assert_eq!(two.len(), 2);
        assert!(select_sections(&["nosuch".into()]).is_empty());
    }

    #[test]
    fn sections_in_fixed_order() {
        let st = State::new(crate::server::config::Config::default());
        let text = info_text(
            &st,
            &["keyspace".into(), "replication".into(), "clients".into()],
        );
        let c = text.find("# Clients").unwrap();
        let r = text.find("# Replication").unwrap();
        let k = text.find("# Keyspace").unwrap();
        assert!(c < r && r < k, "{text}");
        assert!(text.contains("\r\n\r\n# Replication"));
        assert!(!text.ends_with("\r\n\r\n"));
        assert_eq!(info_text(&st, &["nosuch".into()]), "");
    }

    #[test]
    fn human_units() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(3 * 1024 * 1024), "3.00M");
    }
}
