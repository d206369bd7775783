//! The resolve procedure against scripted fake sentinels (real redis-server data
//! nodes): a wrong-role answer is retried after a pause, a sentinel that never
//! answers is skipped after its timeout, `-IDONTKNOW`/null mean "unknown", error
//! replies mean "not reachable", and `SENTINEL SENTINELS` grows the list.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Frame, Proc};
use vigil::discovery::{Addr, Discovery, DiscoveryConfig, DiscoveryError};

/// How a fake sentinel answers GET-MASTER-ADDR-BY-NAME: the n-th query gets
/// `answers[n]` (the last one repeats). `Silent` accepts and never replies.
#[derive(Clone)]
enum Answer {
    Addr(u16),
    Null,
    Error(&'static str),
    Silent,
}

struct Fake {
    port: u16,
    queries: Arc<AtomicUsize>,
    _stop: Arc<()>,
}

fn fake_sentinel(answers: Vec<Answer>, peers: Vec<u16>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let queries = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(());
    let weak = Arc::downgrade(&stop);
    let q = queries.clone();
    let answers = Arc::new(Mutex::new(answers));
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while weak.upgrade().is_some() {
            match listener.accept() {
                Ok((s, _)) => {
                    let (q, answers, peers) = (q.clone(), answers.clone(), peers.clone());
                    std::thread::spawn(move || serve(s, q, answers, peers));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Fake {
        port,
        queries,
        _stop: stop,
    }
}

fn serve(mut s: TcpStream, q: Arc<AtomicUsize>, answers: Arc<Mutex<Vec<Answer>>>, peers: Vec<u16>) {
    s.set_nonblocking(false).ok();
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some((frame, used))) = support::parse_frame(&buf) {
            buf.drain(..used);
            let args: Vec<String> = frame
                .into_items()
                .unwrap_or_default()
                .iter()
                .filter_map(|f| f.as_text())
                .map(|a| a.to_uppercase())
                .collect();
            let reply = match args.get(1).map(String::as_str) {
                Some("GET-MASTER-ADDR-BY-NAME") => {
                    let n = q.fetch_add(1, Ordering::SeqCst);
                    let a = answers.lock().unwrap();
                    match a[n.min(a.len() - 1)].clone() {
                        Answer::Addr(p) => Frame::Array(vec![
                            Frame::bulk_str("127.0.0.1"),
                            Frame::bulk_str(&p.to_string()),
                        ]),
                        Answer::Null => Frame::NullArray,
                        Answer::Error(e) => Frame::Error(e.into()),
                        Answer::Silent => continue,
                    }
                }
                Some("SENTINELS") => Frame::Array(
                    peers
                        .iter()
                        .map(|p| {
                            Frame::Array(
                                [
                                    "name",
                                    "x",
                                    "ip",
                                    "127.0.0.1",
                                    "port",
                                    &p.to_string(),
                                    "flags",
                                    "sentinel",
                                ]
                                .iter()
                                .map(|s| Frame::bulk_str(s))
                                .collect(),
                            )
                        })
                        .collect(),
                ),
                _ => Frame::Error("ERR unknown".into()),
            };
            let _ = s.write_all(&reply.to_bytes(vigil::resp::Proto::Resp2));
        }
    }
}

fn local(p: u16) -> Addr {
    Addr::new("127.0.0.1", p)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn nodes() -> (tempfile::TempDir, Proc, Proc) {
    let dir = support::temp_dir();
    let m = support::redis_server(dir.path(), &[]);
    let r = support::redis_server(
        dir.path(),
        &["--replicaof", "127.0.0.1", &m.port.to_string()],
    );
    (dir, m, r)
}

#[test]
fn wrong_role_is_retried_after_a_pause() {
    let (_d, m, r) = nodes();
    let f = fake_sentinel(vec![Answer::Addr(r.port), Answer::Addr(m.port)], vec![]);
    let cfg = DiscoveryConfig {
        retry_pause: Duration::from_millis(300),
        ..DiscoveryConfig::default()
    };
    rt().block_on(async {
        let d = Discovery::with_config("m", vec![local(f.port)], cfg.clone()).unwrap();
        let t = Instant::now();
        let info = d.master().await.unwrap();
        assert_eq!(info.addr, local(m.port));
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "paused before retrying"
        );
        assert_eq!(
            f.queries.load(Ordering::SeqCst),
            2,
            "asked again after the wrong role"
        );

        // A sentinel that keeps naming the replica: not confirmed, after `attempts`.
        let g = fake_sentinel(vec![Answer::Addr(r.port)], vec![]);
        let d = Discovery::with_config("m", vec![local(g.port)], cfg).unwrap();
        match d.master().await {
            Err(DiscoveryError::MasterNotConfirmed {
                addr,
                attempts,
                reason,
                ..
            }) => {
                assert_eq!(addr, local(r.port));
                assert_eq!(attempts, 3);
                assert!(reason.contains("slave"), "{reason}");
            }
            other => panic!("expected MasterNotConfirmed, got {other:?}"),
        }
        assert_eq!(g.queries.load(Ordering::SeqCst), 3);
        // A dead node named by the sentinel is not confirmed either.
        let dead = support::free_port();
        let h = fake_sentinel(vec![Answer::Addr(dead)], vec![]);
        let d = Discovery::new("m", vec![local(h.port)]).unwrap();
        assert!(matches!(
            d.master().await,
            Err(DiscoveryError::MasterNotConfirmed { .. })
        ));
    });
}

#[test]
fn silent_unknown_and_failing_sentinels() {
    let (_d, m, _r) = nodes();
    let silent = fake_sentinel(vec![Answer::Silent], vec![]);
    let unknown = fake_sentinel(vec![Answer::Null], vec![]);
    let idontknow = fake_sentinel(vec![Answer::Error("IDONTKNOW not yet")], vec![]);
    let noauth = fake_sentinel(
        vec![Answer::Error("NOAUTH Authentication required.")],
        vec![],
    );
    let good = fake_sentinel(vec![Answer::Addr(m.port)], vec![]);
    let cfg = DiscoveryConfig {
        io_timeout: Duration::from_millis(500),
        ..DiscoveryConfig::default()
    };
    rt().block_on(async {
        // Silent, then unknown, then good: the good one answers within about one
        // io timeout, and moves to the front.
        let list = vec![local(silent.port), local(unknown.port), local(good.port)];
        let d = Discovery::with_config("m", list, cfg.clone()).unwrap();
        let t = Instant::now();
        assert_eq!(d.master().await.unwrap().addr, local(m.port));
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(d.sentinels()[0], local(good.port));
        // Next time the good one is asked first: no timeout.
        let t = Instant::now();
        d.master().await.unwrap();
        assert!(t.elapsed() < Duration::from_millis(400));

        // Only "unknown" answers (null, IDONTKNOW): MasterUnknown.
        let d = Discovery::with_config(
            "m",
            vec![
                local(unknown.port),
                local(idontknow.port),
                local(silent.port),
            ],
            cfg.clone(),
        )
        .unwrap();
        match d.master().await {
            Err(DiscoveryError::MasterUnknown {
                answered, failures, ..
            }) => {
                assert_eq!(answered, 2);
                assert_eq!(failures.len(), 1);
            }
            other => panic!("expected MasterUnknown, got {other:?}"),
        }
        // Only errors and silence: nobody could answer.
        let d = Discovery::with_config(
            "m",
            vec![local(noauth.port), local(silent.port)],
            cfg.clone(),
        )
        .unwrap();
        match d.master().await {
            Err(e @ DiscoveryError::NoSentinelReachable { .. }) => {
                let s = e.to_string();
                assert!(s.contains("NOAUTH") && s.contains("no reply within"), "{s}");
            }
            other => panic!("expected NoSentinelReachable, got {other:?}"),
        }
    });
}

#[test]
fn sentinel_list_is_refreshed_from_sentinels() {
    let (_d, m, _r) = nodes();
    let other = fake_sentinel(vec![Answer::Addr(m.port)], vec![]);
    let first = fake_sentinel(vec![Answer::Addr(m.port)], vec![other.port, 1]);
    rt().block_on(async {
        let d = Discovery::new("m", vec![local(first.port)]).unwrap();
        d.master().await.unwrap();
        let list = d.sentinels();
        assert_eq!(list, vec![local(first.port), local(other.port), local(1)]);
        // No duplicates on the next refresh.
        assert_eq!(d.refresh_sentinels().await.unwrap(), 0);
        assert_eq!(d.sentinels().len(), 3);
    });
}
