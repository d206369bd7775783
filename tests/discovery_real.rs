//! `vigil::discovery` against real redis-sentinel + redis-server: resolve, replicas,
//! errors, sentinel-list order and refresh, the connection manager across a SIGKILL
//! failover and across a demotion (READONLY), and the `redis` crate's own sentinel
//! client as a baseline.

mod discovery_support;
mod support;

use discovery_support::{Flavor, Topology, NAME};
use redis::AsyncCommands;
use std::time::{Duration, Instant};
use support::free_port;
use vigil::discovery::{
    Addr, Discovery, DiscoveryError, FailoverClient, ManagerConfig, ManagerEvent, Role,
};

flavors!(
    resolves_master_replicas_and_reports_distinct_errors,
    replica_down_is_skipped,
    manager_reconnects_after_sigkill_failover,
    readonly_from_demoted_master_triggers_rediscovery,
    replica_connections_serve_reads,
    redis_crate_sentinel_client_baseline,
    manager_times_out_on_a_frozen_master_and_moves_on,
    concurrent_callers_share_one_reconnect,
);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn local(port: u16) -> Addr {
    Addr::new("127.0.0.1", port)
}

fn resolves_master_replicas_and_reports_distinct_errors(flavor: Flavor) {
    let t = Topology::start(flavor, 2, 3, 1000);
    rt().block_on(async {
        // A dead sentinel first: it is skipped, and the one that answers moves to the
        // front. Only one live sentinel is given: the others are learnt.
        let dead = local(free_port());
        let live = local(t.sentinels[1].port);
        let d = Discovery::new(NAME, vec![dead.clone(), live.clone()]).unwrap();
        let m = d.master().await.unwrap();
        assert_eq!(m.addr, local(t.master.port));
        assert_eq!(m.sentinel, live);
        let list = d.sentinels();
        assert_eq!(
            list[0], live,
            "answering sentinel moved to the front: {list:?}"
        );
        for s in &t.sentinels {
            assert!(
                list.contains(&local(s.port)),
                "sentinel list refreshed: {list:?}"
            );
        }
        assert!(list.contains(&dead));

        assert_eq!(
            d.role(&m.addr).await.unwrap(),
            Role::Master {
                offset: match d.role(&m.addr).await.unwrap() {
                    Role::Master { offset } => offset,
                    r => panic!("{r:?}"),
                }
            }
        );
        let mut reps: Vec<u16> = d
            .replicas()
            .await
            .unwrap()
            .iter()
            .map(|r| r.addr.port)
            .collect();
        reps.sort();
        let mut want: Vec<u16> = t.replicas.iter().map(|r| r.port).collect();
        want.sort();
        assert_eq!(reps, want);

        // Unknown name: sentinels answer, none knows it.
        let u = Discovery::new("nosuchmaster", t.sentinel_addrs()).unwrap();
        match u.master().await {
            Err(DiscoveryError::MasterUnknown { answered, .. }) => assert_eq!(answered, 3),
            other => panic!("expected MasterUnknown, got {other:?}"),
        }
        match u.replicas().await {
            Err(DiscoveryError::MasterUnknown { .. }) => {}
            other => panic!("expected MasterUnknown, got {other:?}"),
        }
        // Nobody listening: a different error, quickly.
        let started = Instant::now();
        let n = Discovery::new(NAME, vec![local(free_port()), local(free_port())]).unwrap();
        match n.master().await {
            Err(DiscoveryError::NoSentinelReachable { failures, .. }) => {
                assert_eq!(failures.len(), 2)
            }
            other => panic!("expected NoSentinelReachable, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(3));
    });
}

fn replica_down_is_skipped(flavor: Flavor) {
    let mut t = Topology::start(flavor, 2, 1, 1000);
    let gone = t.replicas[0].port;
    t.replicas[0].kill();
    rt().block_on(async {
        let d = Discovery::new(NAME, t.sentinel_addrs()).unwrap();
        // ROLE verification drops it at once; the sentinel flags it disconnected, then
        // s_down after 1 s.
        let reps = d.replicas().await.unwrap();
        assert_eq!(reps.len(), 1);
        assert_ne!(reps[0].addr.port, gone);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = d.all_replicas().await.unwrap();
            let r = all
                .iter()
                .find(|r| r.addr.port == gone)
                .expect("still listed");
            if !r.is_healthy() {
                assert!(
                    r.flags.iter().any(|f| f == "s_down" || f == "disconnected"),
                    "{:?}",
                    r.flags
                );
                break;
            }
            assert!(Instant::now() < deadline, "replica never flagged down");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Write `k{i}` until stopped; returns the indices acknowledged by the master and by
/// both replicas (WAIT 2), i.e. the writes the promoted replica must have.
async fn writer(
    c: FailoverClient,
    stop: tokio::sync::watch::Receiver<bool>,
    replicas: i64,
) -> (Vec<u64>, Vec<u64>, u64) {
    let mut acked = Vec::new();
    let mut durable = Vec::new();
    let mut errors = 0;
    let mut i = 0u64;
    while !*stop.borrow() {
        i += 1;
        let r: Result<(), _> = c.query(redis::cmd("SET").arg(format!("k{i}")).arg(i)).await;
        match r {
            Ok(()) => {
                acked.push(i);
                let w: Result<i64, _> = c.query(redis::cmd("WAIT").arg(replicas).arg(500)).await;
                if matches!(w, Ok(n) if n >= replicas) {
                    durable.push(i);
                }
            }
            Err(_) => errors += 1,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (acked, durable, errors)
}

fn manager_reconnects_after_sigkill_failover(flavor: Flavor) {
    let mut t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let rt = rt();
    let d = Discovery::new(NAME, t.sentinel_addrs()).unwrap();
    let (c, mut events) = rt.block_on(async {
        let c = FailoverClient::new(d, ManagerConfig::default());
        let ev = c.events();
        (c, ev)
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let w = rt.spawn(writer(c.clone(), stop_rx, 2));
    std::thread::sleep(Duration::from_millis(500));
    let killed = Instant::now();
    t.master.kill();
    let new = t.wait_new_master(old, Duration::from_secs(25));
    // Writes resume on the new master by themselves.
    let resumed = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if c.current_master().await == Some(local(new)) {
                let n: i64 = c.query(&redis::cmd("DBSIZE")).await.unwrap();
                if n > 0 {
                    break killed.elapsed();
                }
            }
            assert!(Instant::now() < deadline, "manager never moved to {new}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    stop_tx.send(true).unwrap();
    let (acked, durable, errors) = rt.block_on(w).unwrap();
    eprintln!(
        "failover: new master {new} after {resumed:?}; {} acked, {} durable, {errors} errors",
        acked.len(),
        durable.len()
    );
    let mut conn = support::Client::connect(new);
    for i in &durable {
        let v = conn.text(&["GET", &format!("k{i}")]);
        assert_eq!(v, i.to_string(), "durable write k{i} lost");
    }
    let last = *acked.last().unwrap();
    assert_eq!(conn.text(&["GET", &format!("k{last}")]), last.to_string());
    // The manager saw the old connection drop and connected to the new master.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, ManagerEvent::Connected { addr, .. } if addr.port == new)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, ManagerEvent::Dropped { addr, .. } if addr.port == old)),
        "{seen:?}"
    );
}

fn readonly_from_demoted_master_triggers_rediscovery(flavor: Flavor) {
    let t = Topology::start(flavor, 1, 2, 1000);
    let (old, new) = (t.master.port, t.replicas[0].port);
    let rt = rt();
    rt.block_on(async {
        let cfg = ManagerConfig {
            switch_master_hints: false,
            ..ManagerConfig::default()
        };
        let c = FailoverClient::new(Discovery::new(NAME, t.sentinel_addrs()).unwrap(), cfg);
        let mut events = c.events();
        let () = c
            .query(redis::cmd("SET").arg("before").arg(1))
            .await
            .unwrap();
        assert_eq!(c.current_master().await, Some(local(old)));

        // Swap roles by hand (the connection to the old master stays open), and point
        // the sentinels at the new master.
        let mut n = support::Client::connect(new);
        assert_eq!(n.text(&["REPLICAOF", "NO", "ONE"]), "OK");
        let mut o = support::Client::connect(old);
        assert_eq!(o.text(&["REPLICAOF", "127.0.0.1", &new.to_string()]), "OK");
        for s in &t.sentinels {
            let mut sc = s.client();
            assert_eq!(sc.text(&["SENTINEL", "REMOVE", NAME]), "OK");
            let p = new.to_string();
            assert_eq!(
                sc.text(&["SENTINEL", "MONITOR", NAME, "127.0.0.1", &p, "2"]),
                "OK"
            );
        }
        // The next write hits the old, now read-only node: the manager must notice
        // READONLY, resolve again and land on the new master.
        let () = c
            .query(redis::cmd("SET").arg("after").arg(2))
            .await
            .unwrap();
        assert_eq!(c.current_master().await, Some(local(new)));
        assert_eq!(n.text(&["GET", "after"]), "2");
        let mut dropped = None;
        while let Ok(e) = events.try_recv() {
            if let ManagerEvent::Dropped { addr, reason } = e {
                dropped = Some((addr, reason));
            }
        }
        let (addr, reason) = dropped.expect("a Dropped event");
        assert_eq!(addr, local(old));
        assert!(
            reason.contains("READONLY") || reason.to_lowercase().contains("read"),
            "{reason}"
        );
    });
}

fn replica_connections_serve_reads(flavor: Flavor) {
    let t = Topology::start(flavor, 2, 1, 1000);
    rt().block_on(async {
        let c = FailoverClient::new(
            Discovery::new(NAME, t.sentinel_addrs()).unwrap(),
            ManagerConfig::default(),
        );
        let () = c.query(redis::cmd("SET").arg("r").arg("v")).await.unwrap();
        let _: i64 = c.query(redis::cmd("WAIT").arg(2).arg(2000)).await.unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let (addr, mut conn) = c.replica().await.unwrap();
            assert_ne!(addr.port, t.master.port);
            let v: String = conn.get("r").await.unwrap();
            assert_eq!(v, "v");
            let e: Result<(), _> = conn.set("x", 1).await;
            let e = e.unwrap_err();
            assert!(e.code() == Some("READONLY"), "{e:?} {e}");
            seen.insert(addr.port);
        }
        assert_eq!(seen.len(), 2, "round-robin over both replicas");
    });
}

fn redis_crate_sentinel_client_baseline(flavor: Flavor) {
    let t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let rt = rt();
    let urls: Vec<String> = t
        .sentinels
        .iter()
        .map(|s| format!("redis://127.0.0.1:{}/", s.port))
        .collect();
    let mut client = redis::sentinel::SentinelClient::build(
        urls,
        NAME.to_string(),
        None,
        redis::sentinel::SentinelServerType::Master,
    )
    .unwrap();
    rt.block_on(async {
        let mut con = client.get_async_connection().await.unwrap();
        let () = con.set("a", 1).await.unwrap();
        let v: i64 = con.get("a").await.unwrap();
        assert_eq!(v, 1);
    });
    t.force_failover();
    let new = t.wait_new_master(old, Duration::from_secs(20));
    // The crate reads SENTINEL MASTERS, whose address changes only at failover end
    // (GET-MASTER-ADDR-BY-NAME changes at promotion): until then it would still pick
    // the old master, which answers ROLE master until it is converted.
    t.wait_failover_end(new, Duration::from_secs(20));
    rt.block_on(async {
        // The crate resolves again on every get_async_connection.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut con) = client.get_async_connection().await {
                if let Ok(()) = con.set("b", 2).await {
                    break;
                }
            }
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut n = support::Client::connect(new);
    assert_eq!(n.text(&["GET", "b"]), "2");
    assert_eq!(n.text(&["GET", "a"]), "1");
}

fn manager_times_out_on_a_frozen_master_and_moves_on(flavor: Flavor) {
    let t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let rt = rt();
    rt.block_on(async {
        let cfg = ManagerConfig {
            response_timeout: Duration::from_millis(500),
            ..ManagerConfig::default()
        };
        let c = FailoverClient::new(Discovery::new(NAME, t.sentinel_addrs()).unwrap(), cfg);
        let () = c.query(redis::cmd("SET").arg("a").arg(1)).await.unwrap();
        // Frozen, not dead: the socket stays open and simply never answers.
        discovery_support::freeze(&t.master);
        let started = Instant::now();
        let () = c.query(redis::cmd("SET").arg("b").arg(2)).await.unwrap();
        let took = started.elapsed();
        let now = c.current_master().await.unwrap();
        assert_ne!(now.port, old);
        eprintln!("write after freezing the master succeeded on {now} after {took:?}");
        assert!(took < Duration::from_secs(20), "{took:?}");
        let mut n = support::Client::connect(now.port);
        assert_eq!(n.text(&["GET", "b"]), "2");
        assert_eq!(n.text(&["GET", "a"]), "1");
    });
}

fn concurrent_callers_share_one_reconnect(flavor: Flavor) {
    let mut t = Topology::start(flavor, 2, 3, 1000);
    let old = t.master.port;
    let rt = rt();
    let c = rt.block_on(async {
        FailoverClient::new(
            Discovery::new(NAME, t.sentinel_addrs()).unwrap(),
            ManagerConfig::default(),
        )
    });
    rt.block_on(async {
        let () = c.query(redis::cmd("SET").arg("warm").arg(1)).await.unwrap();
    });
    let mut events = c.events();
    t.master.kill();
    // Eight callers at once while the master is gone: all succeed on the new master.
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move {
                    c.query::<()>(redis::cmd("SET").arg(format!("c{i}")).arg(i))
                        .await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    let new = rt.block_on(c.current_master()).unwrap();
    assert_ne!(new.port, old);
    let mut n = support::Client::connect(new.port);
    for i in 0..8 {
        assert_eq!(n.text(&["GET", &format!("c{i}")]), i.to_string());
    }
    let mut connects = 0;
    while let Ok(e) = events.try_recv() {
        if matches!(e, ManagerEvent::Connected { .. }) {
            connects += 1;
        }
    }
    assert_eq!(connects, 1, "one reconnect shared by all callers");
}
