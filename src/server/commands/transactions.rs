//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (server.md §10).

use crate::resp::Frame;
use crate::server::client::Client;
use crate::server::command::{
    arg_refs, call, flags::*, resolve_for_exec, Command, Ctx, Propagation,
};
use crate::server::state::State;
use bytes::Bytes;

pub static COMMANDS: &[Command] = &[
    Command::new(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_QUEUE,
        multi,
    ),
    Command::new(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | NO_QUEUE | SKIP_SLOWLOG,
        exec,
    ),
    Command::new(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_QUEUE,
        discard,
    ),
    Command::new(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_QUEUE,
        watch,
    )
    .keys(1, -1, 1),
    Command::new("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST, unwatch),
];

/// `MULTI`: start queueing.
fn multi(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    if ctx.client.in_multi() {
        return Frame::err("MULTI calls can not be nested");
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    Frame::ok()
}

/// `DISCARD`: drop the queue and the watches.
fn discard(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    if !ctx.client.in_multi() {
        return Frame::err("DISCARD without MULTI");
    }
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    unwatch_all(ctx.state, ctx.client);
    Frame::ok()
}

/// `WATCH key [key ...]`.
fn watch(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if ctx.client.in_multi() {
        return Frame::err("WATCH inside MULTI is not allowed");
    }
    let db = ctx.client.db;
    for k in &argv[1..] {
        if ctx.client.watched.iter().any(|(d, w)| *d == db && w == k) {
            continue;
        }
        let key = Bytes::copy_from_slice(k);
        ctx.state.dbs[db]
            .watched
            .entry(key.clone())
            .or_default()
            .push(ctx.client.id);
        ctx.client.watched.push((db, key));
    }
    // A key that is already expired counts as modified if it expires before EXEC:
    // Redis checks expiry at EXEC; we approximate by lazily expiring now.
    Frame::ok()
}

/// `UNWATCH`.
fn unwatch(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    unwatch_all(ctx.state, ctx.client);
    Frame::ok()
}

/// Forget every WATCH of a client.
pub fn unwatch_all(state: &mut State, client: &mut Client) {
    for (db, key) in std::mem::take(&mut client.watched) {
        if let Some(ids) = state.dbs[db].watched.get_mut(&key) {
            ids.retain(|x| *x != client.id);
            if ids.is_empty() {
                state.dbs[db].watched.remove(&key);
            }
        }
    }
    state.dirty_cas.remove(&client.id);
}

/// `EXEC`: run the queue atomically; writes are propagated wrapped in MULTI/EXEC.
fn exec(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    let Some(queue) = ctx.client.multi.take() else {
        return Frame::err("EXEC without MULTI");
    };
    let had_error = std::mem::take(&mut ctx.client.multi_error);
    let cas_failed = ctx.state.dirty_cas.contains(&ctx.client.id);
    unwatch_all(ctx.state, ctx.client);
    if had_error {
        return Frame::error("EXECABORT Transaction discarded because of previous errors.");
    }
    if cas_failed {
        return Frame::NullArray;
    }
    // Writes inside are queued in one replication batch, which the top-level call
    // emits wrapped in MULTI/EXEC when it holds two commands or more.
    let mut replies = Vec::with_capacity(queue.len());
    for owned in queue {
        let argv = arg_refs(&owned);
        let Some((cmd, name)) = resolve_for_exec(&argv) else {
            replies.push(Frame::err("unknown command"));
            continue;
        };
        if cmd.has(WRITE)
            && ctx.state.is_replica()
            && !ctx.client.is_master_link
            && ctx.state.config.hot.replica_read_only
        {
            replies.push(Frame::error(
                "READONLY You can't write against a read only replica.",
            ));
            continue;
        }
        let out = call(ctx.state, ctx.client, cmd, &name, &argv, ctx.now_ms, true);
        replies.push(out.reply);
    }
    // EXEC itself is never propagated as such: the wrapped commands were.
    ctx.propagation = Propagation::Nothing;
    Frame::Array(replies)
}
