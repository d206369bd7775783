//! Replication and persistence commands: REPLICAOF/SLAVEOF, SYNC/PSYNC, REPLCONF,
//! WAIT, ROLE, FAILOVER, SAVE, BGSAVE (LASTSAVE is in server.rs) (replication.md §1, §3, §8-§10).

use super::args::{int, is, syntax_error};
use crate::resp::Frame;
use crate::server::command::{flags::*, BlockOn, Command, Ctx};
use crate::server::replication::{
    self, master, persist, FailoverState, LinkState, ReplicaState, WAIT_KEY,
};
use bytes::Bytes;
use std::time::{Duration, Instant};

pub static COMMANDS: &[Command] = &[
    Command::new("replicaof", 3, ADMIN | NOSCRIPT | STALE, replicaof),
    Command::new("slaveof", 3, ADMIN | NOSCRIPT | STALE, replicaof),
    Command::new("psync", -3, ADMIN | NO_MULTI | NOSCRIPT, psync),
    Command::new("sync", 1, ADMIN | NO_MULTI | NOSCRIPT, sync),
    Command::new("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE, replconf),
    Command::new("wait", 3, NOSCRIPT, wait),
    Command::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, role),
    Command::new("failover", -1, ADMIN | NOSCRIPT | STALE, failover),
    Command::new("save", 1, ADMIN | NOSCRIPT | NO_MULTI, save),
    Command::new("bgsave", -1, ADMIN | NOSCRIPT, bgsave),
];

/// `REPLICAOF host port` / `REPLICAOF NO ONE`: follow a master, or become one.
fn replicaof(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if ctx.state.repl.failover != FailoverState::None {
        return Frame::err("REPLICAOF not allowed while failing over.");
    }
    if is(argv[1], "no") && is(argv[2], "one") {
        if ctx.state.is_replica() {
            replication::become_master(ctx.state);
        }
        return Frame::ok();
    }
    let port = match std::str::from_utf8(argv[2])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return Frame::err("Invalid master port"),
    };
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    if !replication::become_replica(ctx.state, &host, port) {
        return Frame::simple("OK Already connected to specified master");
    }
    Frame::ok()
}

/// `PSYNC replid offset [FAILOVER]`: partial resync from the backlog
/// (`+CONTINUE`) or full resync (`+FULLRESYNC replid offset` then the RDB); the
/// connection then becomes a replica link.
fn psync(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let replid = String::from_utf8_lossy(argv[1]).into_owned();
    if argv.len() > 3 && is(argv[3], "failover") {
        if !ctx.state.is_replica() {
            return Frame::err("PSYNC FAILOVER can't be sent to a master.");
        }
        if !replid.eq_ignore_ascii_case(&ctx.state.repl.replid) {
            return Frame::err("PSYNC FAILOVER replid must match my replid.");
        }
        tracing::info!(
            "MASTER MODE enabled (failover request from '{}')",
            ctx.client.addr
        );
        replication::become_master(ctx.state);
    }
    let off = match int(argv[2]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (id, addr) = (ctx.client.id, ctx.client.addr);
    match master::psync(ctx.state, id, addr, Some((&replid, off))) {
        Ok((reply, h)) => {
            ctx.handoff = Some(h);
            reply.unwrap_or_else(|| Frame::simple(""))
        }
        Err(e) => e,
    }
}

/// `SYNC`: the pre-PSYNC full sync: no `+FULLRESYNC` line, the RDB payload directly
/// (`$<len>`, or `$EOF:` after `REPLCONF capa eof`), then the stream; such a replica
/// sends no ACKs and is never timed out for it. `redis-cli --rdb` uses it with
/// `REPLCONF rdb-only 1` (closed after the RDB).
fn sync(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    let (id, addr) = (ctx.client.id, ctx.client.addr);
    match master::psync(ctx.state, id, addr, None) {
        Ok((_, h)) => {
            ctx.handoff = Some(h);
            // An empty simple string with a handoff writes nothing.
            Frame::simple("")
        }
        Err(e) => e,
    }
}

/// `REPLCONF option value [option value ...]`: what a replica tells its master
/// before PSYNC (listening-port, ip-address, capa, rdb-only); `ack`/`getack` are
/// handled on the replication links themselves and get no reply anywhere else.
fn replconf(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len().is_multiple_of(2) {
        return syntax_error();
    }
    let id = ctx.client.id;
    let mut conf = ctx
        .state
        .repl
        .pending_conf
        .get(&id)
        .cloned()
        .unwrap_or_default();
    for pair in argv[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") {
            match int(val) {
                Ok(p) => conf.listening_port = p,
                Err(e) => return e,
            }
        } else if is(opt, "ip-address") {
            if val.len() >= 256 {
                return Frame::err(format!(
                    "REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    val.len()
                ));
            }
            conf.ip_address = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "capa") {
            if is(val, "eof") {
                conf.capa_eof = true;
            } else if is(val, "psync2") {
                conf.capa_psync2 = true;
            }
        } else if is(opt, "ack") || is(opt, "getack") {
            // Meaningful only on replication links (handled there). Like Redis,
            // from any other connection: no reply at all, later pairs ignored.
            ctx.state.repl.pending_conf.insert(id, conf);
            if !ctx.in_exec {
                ctx.client.skip_replies += 1;
            }
            return Frame::ok();
        } else if is(opt, "rdb-only") {
            match int(val) {
                Ok(v @ (0 | 1)) => conf.rdb_only = v == 1,
                _ => return Frame::err("value is out of range, value must between 0 and 1"),
            }
        } else if is(opt, "rdb-filter-only") {
            // Only "functions" is a valid filter (we have no functions: the RDB
            // holds data either way).
            for f in String::from_utf8_lossy(val).split_whitespace() {
                if !f.eq_ignore_ascii_case("functions") {
                    return Frame::err(format!("Unsupported rdb-filter-only option: {f}"));
                }
            }
        } else {
            return Frame::err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    ctx.state.repl.pending_conf.insert(id, conf);
    Frame::ok()
}

/// `WAIT numreplicas timeout`: block until that many replicas acknowledged this
/// connection's last write (a `REPLCONF GETACK *` is sent to speed it up), or the
/// timeout (ms, 0 = forever) passes; replies with the count.
fn wait(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if ctx.state.is_replica() {
        return Frame::err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let num = match int(argv[1]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let timeout = match int(argv[2]) {
        Ok(t) if t < 0 => return Frame::err("timeout is negative"),
        Ok(t) => t,
        Err(e) => return e,
    };
    let id = ctx.client.id;
    let count = ctx.state.repl.replicas_acked(ctx.client.woff);
    if count >= num || ctx.in_exec || ctx.client.in_multi() {
        ctx.state.repl.waits.remove(&id);
        return Frame::Integer(count);
    }
    let now = Instant::now();
    let deadline = match ctx.state.repl.waits.get(&id) {
        Some(d) if d.is_none_or(|d| d > now) => *d,
        _ => {
            let d = (timeout > 0).then(|| now + Duration::from_millis(timeout as u64));
            ctx.state.repl.waits.insert(id, d);
            ctx.state
                .repl
                .emit_no_select(&[b"REPLCONF", b"GETACK", b"*"]);
            d
        }
    };
    if deadline.is_some_and(|d| d <= now) {
        ctx.state.repl.waits.remove(&id);
        return Frame::Integer(count);
    }
    ctx.block = Some(BlockOn {
        keys: vec![Bytes::from_static(WAIT_KEY)],
        deadline,
        timeout_reply: Frame::Integer(count),
    });
    Frame::Integer(count)
}

/// `ROLE`: `[master, offset, [[ip, port, ack]...]]` or
/// `[slave, host, port, state, offset]`.
fn role(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    let r = &ctx.state.repl;
    match &r.master {
        None => Frame::Array(vec![
            Frame::bulk_str("master"),
            Frame::Integer(r.master_repl_offset),
            Frame::Array(
                r.replicas
                    .values()
                    .filter(|x| x.state == ReplicaState::Online)
                    .map(|x| {
                        Frame::Array(vec![
                            Frame::bulk_str(&x.ip),
                            Frame::bulk_str(&x.port.to_string()),
                            Frame::bulk_str(&x.ack_off.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
        Some(m) => Frame::Array(vec![
            Frame::bulk_str("slave"),
            Frame::bulk_str(&m.host),
            Frame::Integer(m.port as i64),
            Frame::bulk_str(r.link.state.name()),
            Frame::Integer(
                if r.link.has_client && r.link.state == LinkState::Connected {
                    r.link.applied
                } else {
                    -1
                },
            ),
        ]),
    }
}

/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]`: coordinated switchover
/// to a replica; writes are paused (held, not refused) until it ends (see
/// replication/failover.rs).
fn failover(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut to: Option<(String, u16)> = None;
    let mut force = false;
    let mut abort = false;
    let mut timeout: Option<i64> = None;
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        if is(a, "to") && to.is_none() && i + 2 < argv.len() {
            let host = String::from_utf8_lossy(argv[i + 1]).into_owned();
            let port = match int(argv[i + 2]) {
                Ok(p) if (0..=65535).contains(&p) => p as u16,
                Ok(_) => return Frame::err("value is not an integer or out of range"),
                Err(e) => return e,
            };
            to = Some((host, port));
            i += 3;
        } else if is(a, "force") && !force {
            force = true;
            i += 1;
        } else if is(a, "abort") && !abort {
            abort = true;
            i += 1;
        } else if is(a, "timeout") && timeout.is_none() && i + 1 < argv.len() {
            match int(argv[i + 1]) {
                Ok(t) if t <= 0 => return Frame::err("FAILOVER timeout must be greater than 0"),
                Ok(t) => timeout = Some(t),
                Err(e) => return e,
            }
            i += 2;
        } else {
            return syntax_error();
        }
    }
    if abort {
        if to.is_some() || force || timeout.is_some() {
            return syntax_error();
        }
        if ctx.state.repl.failover == FailoverState::None {
            return Frame::err("No failover in progress.");
        }
        replication::failover::abort(ctx.state, "Failover manually aborted");
        return Frame::ok();
    }
    if ctx.state.repl.failover != FailoverState::None {
        return Frame::err("FAILOVER already in progress.");
    }
    if ctx.state.is_replica() {
        return Frame::err("FAILOVER is not valid when server is a replica.");
    }
    if ctx.state.repl.replicas.is_empty() {
        return Frame::err("FAILOVER requires connected replicas.");
    }
    if force && (timeout.is_none() || to.is_none()) {
        return Frame::err(
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    if let Some((h, p)) = &to {
        let Some(r) = ctx
            .state
            .repl
            .replicas
            .values()
            .find(|r| r.ip == *h && r.port == *p as i64)
        else {
            return Frame::err("FAILOVER target HOST and PORT is not a replica.");
        };
        if r.state != ReplicaState::Online {
            return Frame::err("FAILOVER target replica is not online.");
        }
    }
    replication::failover::begin(ctx.state, to, timeout, force);
    Frame::ok()
}

/// `SAVE`: write the RDB file now (blocking).
fn save(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    match persist::save_now(ctx.state) {
        Ok(()) => Frame::ok(),
        Err(e) if e.contains("already in progress") => Frame::err(e),
        Err(_) => Frame::error("ERR"),
    }
}

/// `BGSAVE [SCHEDULE]`: write the RDB file in the background.
fn bgsave(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let schedule = match argv.len() {
        1 => false,
        2 if is(argv[1], "schedule") => true,
        _ => return syntax_error(),
    };
    if ctx.state.repl.persist.bgsave_in_progress {
        if schedule {
            return Frame::simple("Background saving scheduled");
        }
        return Frame::err("Background save already in progress");
    }
    match persist::bgsave(ctx.state) {
        Ok(()) => Frame::simple("Background saving started"),
        Err(e) => Frame::err(e),
    }
}
