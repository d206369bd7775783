//! Synchronous acknowledgements (beyond Redis, opt-in): with `vigil-sync-replicas N`
//! (N > 0) a master replies to a write only once N replicas confirmed its offset with
//! `REPLCONF ACK`, like an implicit `WAIT N` after every write. A `REPLCONF GETACK *`
//! is sent into the stream to get the confirmations at once (one per batch of writes,
//! not one per write: a GETACK after the write's offset already covers it).
//!
//! When the confirmations do not come within `vigil-sync-timeout-ms`, or fewer than
//! N replicas are online, the reply of every write of the batch is replaced by
//! `-NOTSYNCED ...`: the write was applied on the master but may be lost in a
//! failover, so it is not acknowledged. Other replies (reads) are sent as they are.
//!
//! Why: Redis replication is asynchronous, so a master cut off from its replicas keeps
//! acknowledging writes a failover then loses. With write fencing (`server::fencing`)
//! the old master stops writing within one lease, but what it acknowledged during that
//! lease is still lost; with N = 1 nothing acknowledged is lost as long as the
//! sentinels promote the most up-to-date replica, which they do (replication offset
//! decides after priority).

use super::state::State;
use crate::resp::{Frame, Proto};
use bytes::BytesMut;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A batch's writes waiting for confirmations.
pub struct SyncWait {
    /// The client's write offset after the batch.
    pub woff: i64,
    pub need: i64,
    pub deadline: Instant,
    pub timeout_ms: u64,
    pub acks: watch::Receiver<u64>,
}

/// After a batch that wrote up to `woff`: what its replies must wait for, if anything.
/// Sends a GETACK when no GETACK after `woff` is in the stream yet.
pub fn start(st: &mut State, woff: i64) -> Option<SyncWait> {
    let need = st.config.hot.sync_replicas;
    if need == 0 || st.is_replica() || st.repl.replicas_acked(woff) >= need {
        return None;
    }
    let timeout_ms = st.config.hot.sync_timeout_ms;
    let online = st
        .repl
        .replicas
        .values()
        .filter(|r| r.state == super::replication::ReplicaState::Online)
        .count() as i64;
    // Fewer replicas than needed: fail at once instead of waiting for the timeout.
    let deadline = if online < need {
        Instant::now()
    } else {
        if st.repl.getack_at < woff {
            st.repl.emit_no_select(&[b"REPLCONF", b"GETACK", b"*"]);
            st.repl.getack_at = st.repl.master_repl_offset;
        }
        Instant::now() + Duration::from_millis(timeout_ms)
    };
    Some(SyncWait {
        woff,
        need,
        deadline,
        timeout_ms,
        acks: st.repl.acks_tx.subscribe(),
    })
}

/// Wait (bounded by the deadline) until enough replicas confirmed. True: confirmed.
pub async fn confirmed(shared: &super::state::Shared, w: &SyncWait) -> bool {
    let mut acks = w.acks.clone();
    loop {
        {
            let st = shared.state.lock();
            if st.repl.replicas_acked(w.woff) >= w.need {
                return true;
            }
        }
        let deadline = tokio::time::Instant::from_std(w.deadline);
        match tokio::time::timeout_at(deadline, acks.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out, or the server is going away.
            _ => return false,
        }
    }
}

/// The error that replaces the reply of an unconfirmed write.
pub fn not_synced(w: &SyncWait) -> Frame {
    Frame::Error(format!(
        "NOTSYNCED the write was applied on the master but fewer than {} replica(s) confirmed it within {} ms; it may be lost in a failover",
        w.need, w.timeout_ms
    ))
}

/// Replace the replies at `ranges` (byte ranges of `out`, in order, not overlapping)
/// with `err`.
pub fn replace_replies(out: &mut BytesMut, ranges: &[(usize, usize)], err: &Frame, proto: Proto) {
    let mut encoded = BytesMut::new();
    err.encode(proto, &mut encoded);
    let mut rebuilt = BytesMut::with_capacity(out.len());
    let mut pos = 0;
    for &(start, end) in ranges {
        rebuilt.extend_from_slice(&out[pos..start]);
        rebuilt.extend_from_slice(&encoded);
        pos = end;
    }
    rebuilt.extend_from_slice(&out[pos..]);
    *out = rebuilt;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_write_replies_are_replaced() {
        let mut out = BytesMut::from(&b"+OK\r\n$1\r\nv\r\n:3\r\n"[..]);
        // SET (0..5) and INCR (12..16) wrote; GET (5..12) did not.
        let err = Frame::Error("NOTSYNCED x".into());
        replace_replies(&mut out, &[(0, 5), (12, 16)], &err, Proto::Resp2);
        assert_eq!(&out[..], b"-NOTSYNCED x\r\n$1\r\nv\r\n-NOTSYNCED x\r\n");
    }
}
