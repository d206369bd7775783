//! Sentinel pub/sub: subscribe to event channels (`+switch-master`, or `*` for the
//! whole timeline) on one or more sentinels, reconnecting with bounded backoff, and
//! forward what arrives. Pub/sub is lossy, so discovery only ever treats these
//! messages as hints to resolve again, never as the answer.

use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::link::{Link, LinkError};
use super::Addr;
use crate::resp::Frame;

/// One message published by a sentinel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelEvent {
    /// The sentinel that published it.
    pub sentinel: Addr,
    /// The channel, i.e. the event name (`+sdown`, `+switch-master`, ...).
    pub channel: String,
    /// The message text after the channel.
    pub payload: String,
    /// When it was received (monotonic clock).
    pub at: Instant,
}

/// `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchMaster {
    pub name: String,
    pub old: Addr,
    pub new: Addr,
}

impl SwitchMaster {
    /// Parse the payload of a `+switch-master` message.
    pub fn parse(payload: &str) -> Option<SwitchMaster> {
        let p: Vec<&str> = payload.split_whitespace().collect();
        if p.len() != 5 {
            return None;
        }
        Some(SwitchMaster {
            name: p[0].to_string(),
            old: Addr::new(p[1], p[2].parse().ok()?),
            new: Addr::new(p[3], p[4].parse().ok()?),
        })
    }
}

/// How a subscription link behaves.
#[derive(Clone, Debug)]
pub struct SubscribeConfig {
    pub connect_timeout: Duration,
    /// Idle time after which a `PING` checks the link; no answer within the same
    /// time means reconnect.
    pub keepalive: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        SubscribeConfig {
            connect_timeout: Duration::from_millis(500),
            keepalive: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// Subscribe on `sentinel` to `channels` (a channel containing `*` is a pattern) and
/// forward every message to `tx` until `tx` closes. Reconnects by itself; the task
/// ends when the receiver is dropped.
pub fn spawn_subscriber(
    sentinel: Addr,
    channels: Vec<String>,
    cfg: SubscribeConfig,
    tx: mpsc::Sender<SentinelEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = cfg.backoff_min;
        loop {
            if tx.is_closed() {
                return;
            }
            let started = Instant::now();
            match subscribe_once(&sentinel, &channels, &cfg, &tx).await {
                Ok(()) => return, // receiver gone
                Err(e) => {
                    tracing::debug!(%sentinel, error = %e, "sentinel subscription lost");
                }
            }
            if started.elapsed() > Duration::from_secs(5) {
                backoff = cfg.backoff_min;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = tx.closed() => return,
            }
            backoff = (backoff * 2).min(cfg.backoff_max);
        }
    })
}

/// One subscription session. `Ok(())` when the receiver went away.
async fn subscribe_once(
    sentinel: &Addr,
    channels: &[String],
    cfg: &SubscribeConfig,
    tx: &mpsc::Sender<SentinelEvent>,
) -> Result<(), LinkError> {
    let mut link = Link::connect(sentinel, cfg.connect_timeout, cfg.keepalive).await?;
    let (patterns, plain): (Vec<&String>, Vec<&String>) =
        channels.iter().partition(|c| c.contains('*'));
    if !plain.is_empty() {
        let mut args = vec!["SUBSCRIBE"];
        args.extend(plain.iter().map(|s| s.as_str()));
        link.send(&args).await?;
    }
    if !patterns.is_empty() {
        let mut args = vec!["PSUBSCRIBE"];
        args.extend(patterns.iter().map(|s| s.as_str()));
        link.send(&args).await?;
    }
    let mut ping_sent = false;
    loop {
        let frame = tokio::select! {
            r = tokio::time::timeout(cfg.keepalive, link.read_frame()) => r,
            _ = tx.closed() => return Ok(()),
        };
        match frame {
            Err(_) if ping_sent => {
                return Err(LinkError::ReadTimeout(cfg.keepalive));
            }
            Err(_) => {
                link.send(&["PING"]).await?;
                ping_sent = true;
            }
            Ok(frame) => {
                ping_sent = false;
                let frame = frame?;
                if let Frame::Error(e) = &frame {
                    return Err(LinkError::Protocol(e.clone()));
                }
                if let Some((channel, payload)) = message_of(frame) {
                    let ev = SentinelEvent {
                        sentinel: sentinel.clone(),
                        channel,
                        payload,
                        at: Instant::now(),
                    };
                    if tx.send(ev).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// `message <channel> <payload>` or `pmessage <pattern> <channel> <payload>`.
fn message_of(frame: Frame) -> Option<(String, String)> {
    let items = frame.into_items()?;
    let kind = items.first()?.as_text()?;
    match kind.as_str() {
        "message" if items.len() == 3 => Some((items[1].as_text()?, items[2].as_text()?)),
        "pmessage" if items.len() == 4 => Some((items[2].as_text()?, items[3].as_text()?)),
        _ => None,
    }
}

/// Subscribe to `+switch-master` on every given sentinel and forward the switches of
/// master `name`. Returns the receiver and the tasks (abort them, or drop the
/// receiver, to stop).
pub fn switch_master_hints(
    sentinels: &[Addr],
    name: &str,
    cfg: SubscribeConfig,
) -> (mpsc::Receiver<(Addr, SwitchMaster)>, Vec<JoinHandle<()>>) {
    let (raw_tx, mut raw_rx) = mpsc::channel::<SentinelEvent>(64);
    let (tx, rx) = mpsc::channel(16);
    let mut tasks: Vec<JoinHandle<()>> = sentinels
        .iter()
        .map(|s| {
            spawn_subscriber(
                s.clone(),
                vec!["+switch-master".to_string()],
                cfg.clone(),
                raw_tx.clone(),
            )
        })
        .collect();
    drop(raw_tx);
    let name = name.to_string();
    tasks.push(tokio::spawn(async move {
        while let Some(ev) = raw_rx.recv().await {
            if let Some(sw) = SwitchMaster::parse(&ev.payload) {
                if sw.name == name && tx.send((ev.sentinel, sw)).await.is_err() {
                    return;
                }
            }
        }
    }));
    (rx, tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_switch_master() {
        let s = SwitchMaster::parse("mymaster 127.0.0.1 6379 127.0.0.1 6380").unwrap();
        assert_eq!(s.name, "mymaster");
        assert_eq!(s.old, Addr::new("127.0.0.1", 6379));
        assert_eq!(s.new, Addr::new("127.0.0.1", 6380));
        assert!(SwitchMaster::parse("mymaster 127.0.0.1 6379").is_none());
        assert!(SwitchMaster::parse("m a x b 1").is_none());
    }

    #[test]
    fn message_shapes() {
        let b = Frame::bulk_str;
        let m = Frame::Array(vec![b("message"), b("+sdown"), b("master m 1.2.3.4 5")]);
        assert_eq!(
            message_of(m),
            Some(("+sdown".into(), "master m 1.2.3.4 5".into()))
        );
        let pm = Frame::Push(vec![b("pmessage"), b("*"), b("+odown"), b("x")]);
        assert_eq!(message_of(pm), Some(("+odown".into(), "x".into())));
        let sub = Frame::Array(vec![b("subscribe"), b("+sdown"), Frame::Integer(1)]);
        assert_eq!(message_of(sub), None);
    }
}
