//! Monitoring interoperability: vigil sentinels over real redis-server instances
//! (discovery of replicas and peers, SDOWN/ODOWN, a mixed set with redis-sentinel,
//! client libraries, restart).

mod support;

use std::time::Duration;
use support::*;

const NAME: &str = "mymaster";

/// A real master with two real replicas (replica-priority 0 so no failover can
/// change the topology under a monitoring test), replicas attached.
fn topology(dir: &std::path::Path) -> (Proc, Proc, Proc) {
    let master = redis_server(dir, &[]);
    let mp = master.port.to_string();
    let r1 = redis_server(
        dir,
        &["--replicaof", "127.0.0.1", &mp, "--replica-priority", "0"],
    );
    let r2 = redis_server(
        dir,
        &["--replicaof", "127.0.0.1", &mp, "--replica-priority", "0"],
    );
    wait_for("2 replicas online", Duration::from_secs(10), || {
        let info = master.client().text(&["INFO", "replication"]);
        (info.matches("state=online").count() == 2).then_some(())
    });
    (master, r1, r2)
}

fn conf(master_port: u16, quorum: u32) -> String {
    format!(
        "sentinel monitor {NAME} 127.0.0.1 {master_port} {quorum}\n\
         sentinel down-after-milliseconds {NAME} 1000\n\
         sentinel failover-timeout {NAME} 60000\n"
    )
}

fn replicas(port: u16) -> Vec<std::collections::HashMap<String, String>> {
    frame_maps(&Client::connect(port).cmd(&["SENTINEL", "REPLICAS", NAME]))
}

fn sentinels(port: u16) -> Vec<std::collections::HashMap<String, String>> {
    frame_maps(&Client::connect(port).cmd(&["SENTINEL", "SENTINELS", NAME]))
}

fn master_flags(port: u16) -> String {
    let m = frame_map(&Client::connect(port).cmd(&["SENTINEL", "MASTER", NAME]));
    m.get("flags").cloned().unwrap_or_default()
}

fn wait_discovery(ports: &[u16], n_sentinels: usize) {
    for &p in ports {
        wait_for(
            &format!("sentinel {p} sees 2 replicas and {n_sentinels} peers"),
            Duration::from_secs(15),
            || {
                let r = replicas(p);
                let s = sentinels(p);
                let ok = r.len() == 2
                    && r.iter().all(|m| m["flags"] == "slave")
                    && s.len() == n_sentinels
                    && s.iter().all(|m| m["flags"] == "sentinel");
                ok.then_some(())
            },
        );
    }
}

#[test]
fn three_vigil_sentinels_discover_detect_and_restart() {
    let dir = temp_dir();
    let (master, _r1, _r2) = topology(dir.path());
    let mut s: Vec<Proc> = (0..3)
        .map(|_| vigil_sentinel(dir.path(), &conf(master.port, 2)))
        .collect();
    let ports: Vec<u16> = s.iter().map(|p| p.port).collect();
    wait_discovery(&ports, 2);

    let mp = master.port.to_string();
    for &p in &ports {
        let mut c = Client::connect(p);
        let addr = c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME]);
        assert_eq!(
            addr,
            Frame::Array(vec![Frame::bulk_str("127.0.0.1"), Frame::bulk_str(&mp)])
        );
        assert_eq!(
            c.text(&["SENTINEL", "CKQUORUM", NAME]),
            "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
        );
        let info = c.text(&["INFO", "sentinel"]);
        assert!(
            info.contains(&format!(
                "master0:name={NAME},status=ok,address=127.0.0.1:{mp},slaves=2,sentinels=3"
            )),
            "{info}"
        );
        let m = frame_map(&c.cmd(&["SENTINEL", "MASTER", NAME]));
        assert_eq!(m["flags"], "master");
        assert_eq!(m["num-slaves"], "2");
        assert_eq!(m["num-other-sentinels"], "2");
        assert_eq!(m["quorum"], "2");
        for f in [
            "last-ping-sent",
            "last-ok-ping-reply",
            "info-refresh",
            "config-epoch",
            "down-after-milliseconds",
        ] {
            m[f].parse::<i64>()
                .unwrap_or_else(|_| panic!("{f} = {:?}", m[f]));
        }
        let role = c.cmd(&["ROLE"]).into_items().unwrap();
        assert_eq!(role[0].as_text().unwrap(), "sentinel");
        assert!(c
            .text(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"])
            .contains("NullArray"));
        assert!(c
            .text(&["SENTINEL", "MASTER", "nope"])
            .starts_with("ERR No such master"));
    }
    // redis-cli speaks to it like to redis-sentinel.
    let out = redis_cli(ports[0], &["SENTINEL", "get-master-addr-by-name", NAME]);
    assert_eq!(out, format!("127.0.0.1\n{mp}"));
    let myid0 = redis_cli(ports[0], &["SENTINEL", "MYID"]);
    assert_eq!(myid0.len(), 40);

    // The peers learnt our id.
    let ids1: Vec<String> = sentinels(ports[1])
        .iter()
        .map(|m| m["runid"].clone())
        .collect();
    assert!(ids1.contains(&myid0));

    // SDOWN/ODOWN when the master stops; events on pub/sub in Redis's format.
    let mut sub = Client::connect(ports[0]);
    sub.send(&["SUBSCRIBE", "+odown", "-odown", "+sdown"]);
    for _ in 0..3 {
        sub.read();
    }
    master.stop();
    for &p in &ports {
        wait_for("o_down everywhere", Duration::from_secs(10), || {
            let f = master_flags(p);
            (f.contains("s_down") && f.contains("o_down")).then_some(())
        });
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = sub.read().into_items().unwrap();
        got.push((m[1].as_text().unwrap(), m[2].as_text().unwrap()));
    }
    assert_eq!(
        got[0],
        (
            "+sdown".to_string(),
            format!("master {NAME} 127.0.0.1 {mp}")
        )
    );
    assert_eq!(got[1].0, "+odown");
    assert!(
        got[1]
            .1
            .starts_with(&format!("master {NAME} 127.0.0.1 {mp} #quorum ")),
        "{:?}",
        got[1]
    );
    master.cont();
    for &p in &ports {
        wait_for("-odown everywhere", Duration::from_secs(10), || {
            (master_flags(p) == "master").then_some(())
        });
    }
    let m = sub.read().into_items().unwrap();
    assert_eq!(m[1].as_text().unwrap(), "-odown");

    // The events are in the log, in Redis's format.
    let log = std::fs::read_to_string(dir.path().join(format!("vigil-sentinel-{}.log", ports[0])))
        .unwrap();
    assert!(
        log.contains(&format!("# +odown master {NAME} 127.0.0.1 {mp} #quorum")),
        "{log}"
    );
    assert!(log.contains(&format!("# -odown master {NAME} 127.0.0.1 {mp}")));
    assert!(log.contains(&"* +slave slave 127.0.0.1:".to_string()));

    // Restart one sentinel: same id, replicas and peers known at once from its file.
    let conf_path = dir.path().join(format!("sentinel-{}.conf", ports[0]));
    let text = std::fs::read_to_string(&conf_path).unwrap();
    assert!(text.contains(&format!("sentinel myid {myid0}")), "{text}");
    assert_eq!(text.matches("sentinel known-replica").count(), 2, "{text}");
    assert_eq!(text.matches("sentinel known-sentinel").count(), 2, "{text}");
    s[0].kill();
    let restarted = vigil_sentinel_at(dir.path(), ports[0], &conf_path);
    assert_eq!(redis_cli(restarted.port, &["SENTINEL", "MYID"]), myid0);
    assert_eq!(replicas(restarted.port).len(), 2);
    assert_eq!(sentinels(restarted.port).len(), 2);
    wait_discovery(&[restarted.port], 2);
    // The peers did not grow a duplicate entry for the restarted one.
    assert_eq!(sentinels(ports[1]).len(), 2);
}

#[test]
fn mixed_set_with_redis_sentinel_agrees_on_odown() {
    let dir = temp_dir();
    let (master, _r1, _r2) = topology(dir.path());
    let c = conf(master.port, 2);
    let v1 = vigil_sentinel(dir.path(), &c);
    let v2 = vigil_sentinel(dir.path(), &c);
    let rs = redis_sentinel(dir.path(), &c);
    let ports = [v1.port, v2.port, rs.port];
    wait_discovery(&ports, 2);
    master.stop();
    for &p in &ports {
        wait_for(&format!("o_down on {p}"), Duration::from_secs(10), || {
            master_flags(p).contains("o_down").then_some(())
        });
    }
    master.cont();
    for &p in &ports {
        wait_for(&format!("-odown on {p}"), Duration::from_secs(15), || {
            (!master_flags(p).contains("o_down")).then_some(())
        });
    }
}

#[test]
fn no_odown_without_quorum() {
    let dir = temp_dir();
    let (master, _r1, _r2) = topology(dir.path());
    // Quorum 3 with only two sentinels: SDOWN but never ODOWN.
    let s1 = vigil_sentinel(dir.path(), &conf(master.port, 3));
    let s2 = vigil_sentinel(dir.path(), &conf(master.port, 3));
    wait_discovery(&[s1.port, s2.port], 1);
    assert!(Client::connect(s1.port)
        .text(&["SENTINEL", "CKQUORUM", NAME])
        .starts_with("NOQUORUM 2 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master"));
    master.stop();
    wait_for("s_down", Duration::from_secs(10), || {
        master_flags(s1.port).contains("s_down").then_some(())
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!master_flags(s1.port).contains("o_down"));
    assert!(!master_flags(s2.port).contains("o_down"));
    master.cont();
}

#[test]
fn clients_discover_through_vigil_sentinel() {
    let dir = temp_dir();
    let (master, r1, r2) = topology(dir.path());
    let s1 = vigil_sentinel(dir.path(), &conf(master.port, 1));
    wait_for("replicas known", Duration::from_secs(10), || {
        (replicas(s1.port).len() == 2).then_some(())
    });
    // redis-py 8, default protocol (HELLO 3 to the sentinel) and protocol=2.
    let script = format!(
        r#"
import redis
from redis.sentinel import Sentinel
for kw in ({{}}, {{"protocol": 2}}):
    s = Sentinel([("127.0.0.1", {sp})], socket_timeout=2, **kw)
    m = s.discover_master("{NAME}")
    assert m == ("127.0.0.1", {mp}), m
    sl = sorted(s.discover_slaves("{NAME}"))
    assert sl == sorted([("127.0.0.1", {r1}), ("127.0.0.1", {r2})]), sl
    c = s.master_for("{NAME}", socket_timeout=2, **kw)
    c.set("k", "v")
    assert c.get("k") == b"v"
print("ok")
"#,
        sp = s1.port,
        mp = master.port,
        r1 = r1.port,
        r2 = r2.port
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "redis-py failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The redis crate's sentinel client (ROLE check, SENTINEL MASTERS/SLAVES).
    let mut sentinel =
        redis::sentinel::Sentinel::build(vec![format!("redis://127.0.0.1:{}", s1.port)]).unwrap();
    let client = sentinel.master_for(NAME, None).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET")
        .arg("k2")
        .arg("v2")
        .query(&mut con)
        .unwrap();
    let replicas = sentinel.get_replica_clients(NAME, None).unwrap();
    assert_eq!(replicas.len(), 2);

    // RESP3 instance maps.
    let mut c = Client::connect(s1.port);
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(matches!(hello, Frame::Map(_)), "{hello:?}");
    let m = frame_map(&hello);
    assert_eq!(m["mode"], "sentinel");
    assert_eq!(m["proto"], "3");
    let masters = c.cmd(&["SENTINEL", "MASTERS"]);
    let items = masters.into_items().unwrap();
    assert!(matches!(items[0], Frame::Map(_)));
}

#[test]
fn three_sentinels_over_a_vigil_server_master() {
    // The bundled server as the monitored master (its replication is not merged yet,
    // so this covers peers, hellos, PING/INFO and SDOWN/ODOWN without replicas).
    let dir = temp_dir();
    let master = vigil_server(dir.path(), &[]);
    let s: Vec<Proc> = (0..3)
        .map(|_| vigil_sentinel(dir.path(), &conf(master.port, 2)))
        .collect();
    let ports: Vec<u16> = s.iter().map(|p| p.port).collect();
    for &p in &ports {
        wait_for(
            "peers via hellos on vigil server",
            Duration::from_secs(15),
            || {
                let m = frame_map(&Client::connect(p).cmd(&["SENTINEL", "MASTER", NAME]));
                (m["num-other-sentinels"] == "2"
                    && m["flags"] == "master"
                    && m["runid"].len() == 40)
                    .then_some(())
            },
        );
    }
    master.stop();
    for &p in &ports {
        wait_for("o_down", Duration::from_secs(10), || {
            master_flags(p).contains("o_down").then_some(())
        });
    }
    master.cont();
    for &p in &ports {
        wait_for("-odown", Duration::from_secs(10), || {
            (!master_flags(p).contains("o_down")).then_some(())
        });
    }
}

/// SIGSTOP the master for half of down-after, three times at different phases of
/// the PING cadence: the pending PING is answered on SIGCONT, and no `+sdown` is
/// ever published (Redis counts from the oldest unanswered PING, and so do we).
fn stopped_for_half_down_after_is_never_sdown(down_after_ms: u64) {
    let dir = temp_dir();
    let master = redis_server(dir.path(), &[]);
    let s = vigil_sentinel(
        dir.path(),
        &format!(
            "sentinel monitor {NAME} 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds {NAME} {down_after_ms}\n",
            master.port
        ),
    );
    wait_for("master monitored", Duration::from_secs(10), || {
        let m = frame_map(&Client::connect(s.port).cmd(&["SENTINEL", "MASTER", NAME]));
        let ok = m.get("flags").map(String::as_str) == Some("master")
            && m.get("info-refresh")
                .is_some_and(|v| v.parse::<u64>().is_ok_and(|ms| ms < 10_000));
        ok.then_some(())
    });
    let mut events = Client::connect(s.port);
    events.cmd(&["SUBSCRIBE", "+sdown"]);
    let half = Duration::from_millis(down_after_ms / 2);
    for extra in [0u64, 330, 670] {
        master.stop();
        std::thread::sleep(half);
        master.cont();
        assert!(
            !master_flags(s.port).contains("s_down"),
            "s_down after a pause of {half:?}"
        );
        std::thread::sleep(Duration::from_millis(down_after_ms + extra));
    }
    events
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let got = events.try_read();
    assert!(got.is_none(), "unexpected event: {got:?}");
    assert_eq!(master_flags(s.port), "master");
}

#[test]
fn master_stopped_for_half_of_1000ms_down_after_is_not_sdown() {
    stopped_for_half_down_after_is_never_sdown(1000);
}

#[test]
fn master_stopped_for_half_of_2000ms_down_after_is_not_sdown() {
    stopped_for_half_down_after_is_never_sdown(2000);
}

/// With `resolve-hostnames yes` a master given as `localhost` is monitored (and
/// reported by its IP, as Redis does with `announce-hostnames no`), and when its
/// links are killed the sentinel resolves the name again and reconnects.
#[test]
fn hostname_master_is_resolved_again_on_reconnect() {
    let dir = temp_dir();
    let master = redis_server(dir.path(), &[]);
    let s = vigil_sentinel(
        dir.path(),
        &format!(
            "sentinel resolve-hostnames yes\n\
             sentinel monitor {NAME} localhost {} 1\n\
             sentinel down-after-milliseconds {NAME} 1000\n",
            master.port
        ),
    );
    // The sentinel's command link (client name sentinel-<id8>-cmd) and its id.
    let cmd_link_id = || -> Option<String> {
        let list = master.client().text(&["CLIENT", "LIST"]);
        list.lines()
            .find(|l| l.contains("name=sentinel-") && l.contains("-cmd "))
            .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(str::to_string)
    };
    let first = wait_for("sentinel connected", Duration::from_secs(10), cmd_link_id);
    wait_for("master seen", Duration::from_secs(10), || {
        (master_flags(s.port) == "master").then_some(())
    });
    let addr = Client::connect(s.port).cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME]);
    assert_eq!(
        addr,
        Frame::Array(vec![
            Frame::bulk_str("127.0.0.1"),
            Frame::bulk_str(&master.port.to_string())
        ])
    );
    // Drop every client connection (ours is skipped): the sentinel reconnects.
    master.client().cmd(&["CLIENT", "KILL", "TYPE", "normal"]);
    let second = wait_for("sentinel reconnected", Duration::from_secs(10), || {
        cmd_link_id().filter(|id| *id != first)
    });
    assert_ne!(first, second);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(master_flags(s.port), "master");
}
