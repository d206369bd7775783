//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB
//! CHANNELS|NUMSUB|NUMPAT|HELP (server.md §11).
//!
//! (Un)subscribe commands emit one `[kind, name, count]` frame per channel or pattern
//! (`*3` in RESP2, a `>3` push in RESP3): all but the last go to
//! `client.pre_replies`, the last is the command's reply. Messages reach other
//! connections through their registry entry (`ClientEntry::push`).

use crate::resp::Frame;
use crate::server::client::Client;
use crate::server::command::{flags::*, Command, Ctx};
use crate::server::glob::glob_match;
use crate::server::state::State;
use bytes::Bytes;
use std::collections::HashSet;

pub static COMMANDS: &[Command] = &[
    Command::new(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        subscribe,
    ),
    Command::new(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        unsubscribe,
    ),
    Command::new(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        psubscribe,
    ),
    Command::new(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK,
        punsubscribe,
    ),
    Command::new(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        publish,
    ),
    Command::new("pubsub", -2, 0, pubsub_help).subs(PUBSUB_SUBS),
];

static PUBSUB_SUBS: &[Command] = &[
    Command::new("channels", -2, PUBSUB | LOADING | STALE, pubsub_channels),
    Command::new("numsub", -2, PUBSUB | LOADING | STALE, pubsub_numsub),
    Command::new("numpat", 2, PUBSUB | LOADING | STALE, pubsub_numpat),
    Command::new("help", 2, LOADING | STALE, pubsub_help),
    Command::new(
        "shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        pubsub_shardchannels,
    ),
    Command::new(
        "shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        pubsub_shardnumsub,
    ),
];

/// `[kind, name, count]` as a push frame (an array in RESP2).
fn confirmation(kind: &str, name: Option<Bytes>, count: usize) -> Frame {
    Frame::Push(vec![
        Frame::bulk_str(kind),
        name.map(Frame::Bulk).unwrap_or(Frame::Null),
        Frame::Integer(count as i64),
    ])
}

/// Emit several frames: all but the last before the reply, the last as the reply.
fn emit(ctx: &mut Ctx, mut frames: Vec<Frame>) -> Frame {
    let last = frames.pop().unwrap_or(Frame::NullArray);
    ctx.client.pre_replies.extend(frames);
    last
}

/// What a (un)subscribe command works on: channels (SUBSCRIBE, UNSUBSCRIBE) or
/// patterns (PSUBSCRIBE, PUNSUBSCRIBE).
#[derive(Clone, Copy)]
enum Target {
    Channels,
    Patterns,
}

impl Target {
    /// The confirmation word: the command's own name.
    fn word(self, subscribe: bool) -> &'static str {
        match (self, subscribe) {
            (Target::Channels, true) => "subscribe",
            (Target::Channels, false) => "unsubscribe",
            (Target::Patterns, true) => "psubscribe",
            (Target::Patterns, false) => "punsubscribe",
        }
    }

    /// The connection's own set of channels or patterns.
    fn mine(self, client: &mut Client) -> &mut HashSet<Bytes> {
        match self {
            Target::Channels => &mut client.channels,
            Target::Patterns => &mut client.patterns,
        }
    }

    /// Record `name` for client `id` in the server's registry.
    fn register(self, state: &mut State, name: Bytes, id: u64) {
        match self {
            Target::Channels => state.pubsub.subscribe(name, id),
            Target::Patterns => state.pubsub.psubscribe(name, id),
        };
    }

    /// Forget `name` for client `id` in the server's registry.
    fn unregister(self, state: &mut State, name: &[u8], id: u64) {
        match self {
            Target::Channels => state.pubsub.unsubscribe(name, id),
            Target::Patterns => state.pubsub.punsubscribe(name, id),
        };
    }
}

/// Shared body of SUBSCRIBE and PSUBSCRIBE: one confirmation per argument.
fn subscribe_to(ctx: &mut Ctx, argv: &[&[u8]], target: Target) -> Frame {
    let id = ctx.client.id;
    let mut frames = Vec::with_capacity(argv.len() - 1);
    for name in &argv[1..] {
        let name = Bytes::copy_from_slice(name);
        if target.mine(ctx.client).insert(name.clone()) {
            target.register(ctx.state, name.clone(), id);
        }
        frames.push(confirmation(
            target.word(true),
            Some(name),
            ctx.client.subscriptions(),
        ));
    }
    emit(ctx, frames)
}

/// Shared body of UNSUBSCRIBE and PUNSUBSCRIBE: no argument means every one the
/// connection has; with none at all, one confirmation with a null name.
fn unsubscribe_from(ctx: &mut Ctx, argv: &[&[u8]], target: Target) -> Frame {
    let id = ctx.client.id;
    let names: Vec<Bytes> = if argv.len() > 1 {
        argv[1..]
            .iter()
            .map(|c| Bytes::copy_from_slice(c))
            .collect()
    } else {
        target.mine(ctx.client).iter().cloned().collect()
    };
    if names.is_empty() {
        return confirmation(target.word(false), None, ctx.client.subscriptions());
    }
    let mut frames = Vec::with_capacity(names.len());
    for name in names {
        if target.mine(ctx.client).remove(&name) {
            target.unregister(ctx.state, &name, id);
        }
        frames.push(confirmation(
            target.word(false),
            Some(name),
            ctx.client.subscriptions(),
        ));
    }
    emit(ctx, frames)
}

/// `SUBSCRIBE channel [channel ...]`: one confirmation per channel.
fn subscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    subscribe_to(ctx, argv, Target::Channels)
}

/// `PSUBSCRIBE pattern [pattern ...]`.
fn psubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    subscribe_to(ctx, argv, Target::Patterns)
}

/// `UNSUBSCRIBE [channel ...]`: no argument means every channel; with nothing
/// subscribed, one frame with a null name.
fn unsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    unsubscribe_from(ctx, argv, Target::Channels)
}

/// `PUNSUBSCRIBE [pattern ...]`.
fn punsubscribe(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    unsubscribe_from(ctx, argv, Target::Patterns)
}

/// `PUBLISH channel message`: `:<receivers>` (channel subscribers plus one per
/// matching pattern subscription).
fn publish(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let n = publish_message(ctx.state, argv[1], argv[2]);
    Frame::Integer(n as i64)
}

/// Deliver a message to every subscriber of `channel` and of matching patterns.
/// Returns the number of receivers. Also used by other parts of the server.
pub fn publish_message(state: &mut State, channel: &[u8], message: &[u8]) -> usize {
    let mut receivers = 0;
    let ch = Bytes::copy_from_slice(channel);
    let msg = Bytes::copy_from_slice(message);
    if let Some(ids) = state.pubsub.channels.get(channel) {
        let frame = Frame::Push(vec![
            Frame::bulk_str("message"),
            Frame::Bulk(ch.clone()),
            Frame::Bulk(msg.clone()),
        ]);
        for id in ids {
            if let Some(e) = state.clients.entries.get(id) {
                e.push(frame.clone());
                receivers += 1;
            }
        }
    }
    for (pattern, ids) in &state.pubsub.patterns {
        if !glob_match(pattern, channel) {
            continue;
        }
        let frame = Frame::Push(vec![
            Frame::bulk_str("pmessage"),
            Frame::Bulk(pattern.clone()),
            Frame::Bulk(ch.clone()),
            Frame::Bulk(msg.clone()),
        ]);
        for id in ids {
            if let Some(e) = state.clients.entries.get(id) {
                e.push(frame.clone());
                receivers += 1;
            }
        }
    }
    receivers
}

/// `PUBSUB CHANNELS [pattern]`: active channels (with at least one subscriber).
fn pubsub_channels(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len() > 3 {
        return Frame::err("Unknown PUBSUB subcommand or wrong number of arguments for 'channels'");
    }
    let pat = argv.get(2);
    let mut out: Vec<Frame> = ctx
        .state
        .pubsub
        .channels
        .keys()
        .filter(|c| pat.is_none_or(|p| glob_match(p, c)))
        .map(|c| Frame::Bulk(c.clone()))
        .collect();
    out.sort_by(|a, b| a.as_bytes().cmp(&b.as_bytes()));
    Frame::Array(out)
}

/// `PUBSUB NUMSUB [channel ...]`: flat `[ch, n, ...]` in both protocols.
fn pubsub_numsub(ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut out = Vec::with_capacity(2 * (argv.len() - 2));
    for ch in &argv[2..] {
        let n = ctx
            .state
            .pubsub
            .channels
            .get(&ch[..])
            .map_or(0, |s| s.len());
        out.push(Frame::Bulk(Bytes::copy_from_slice(ch)));
        out.push(Frame::Integer(n as i64));
    }
    Frame::Array(out)
}

/// `PUBSUB NUMPAT`: number of distinct patterns subscribed to.
fn pubsub_numpat(ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    Frame::Integer(ctx.state.pubsub.patterns.len() as i64)
}

/// `PUBSUB SHARDCHANNELS [pattern]`: no shard channels outside cluster mode.
fn pubsub_shardchannels(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    if argv.len() > 3 {
        return Frame::err(
            "Unknown PUBSUB subcommand or wrong number of arguments for 'shardchannels'",
        );
    }
    Frame::Array(Vec::new())
}

/// `PUBSUB SHARDNUMSUB [channel ...]`: every count is 0 (no shard channels here).
fn pubsub_shardnumsub(_ctx: &mut Ctx, argv: &[&[u8]]) -> Frame {
    let mut out = Vec::new();
    for ch in &argv[2..] {
        out.push(Frame::Bulk(Bytes::copy_from_slice(ch)));
        out.push(Frame::Integer(0));
    }
    Frame::Array(out)
}

/// `PUBSUB HELP`.
fn pubsub_help(_ctx: &mut Ctx, _argv: &[&[u8]]) -> Frame {
    help_lines(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
}

/// Redis's `addReplyHelp`: a header, the lines, then HELP.
pub fn help_lines(container: &str, lines: &[&str]) -> Frame {
    let mut out = vec![Frame::simple(format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    out.extend(lines.iter().map(|l| Frame::simple(l.to_string())));
    out.push(Frame::simple("HELP"));
    out.push(Frame::simple("    Prints this help."));
    Frame::Array(out)
}
