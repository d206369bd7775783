//! `resolve-hostnames yes` with a master given as `localhost`, vigil and Redis 7.0's
//! redis-sentinel side by side: with `announce-hostnames no` both report the IP the
//! name resolved to (replies, INFO, events, config rewrite), with `announce-hostnames
//! yes` both report the name; and a mixed set agrees on ODOWN and fails over (each
//! finds the master the other asks about, by IP or by name).

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use support::*;

const NAME: &str = "mym";

/// A redis master, a replica that follows it as `localhost`, and a vigil and a
/// redis-sentinel monitoring it as `localhost` with `quorum`, all known to each other.
struct SideBySide {
    dir: tempfile::TempDir,
    master: Proc,
    replica: Proc,
    /// vigil, then redis-sentinel.
    sentinels: [Proc; 2],
}

impl SideBySide {
    fn start(quorum: u32) -> SideBySide {
        let dir = temp_dir();
        let master = redis_server(dir.path(), &[]);
        let mp = master.port;
        let replica = redis_server(dir.path(), &["--replicaof", "localhost", &mp.to_string()]);
        wait_link_up(replica.port);
        let sentinels = [
            vigil_sentinel(dir.path(), &conf(mp, quorum)),
            redis_sentinel(dir.path(), &conf(mp, quorum)),
        ];
        wait_sentinels_know(&[sentinels[0].port, sentinels[1].port], NAME, 1);
        SideBySide {
            dir,
            master,
            replica,
            sentinels,
        }
    }

    fn ports(&self) -> [u16; 2] {
        [self.sentinels[0].port, self.sentinels[1].port]
    }
}

fn conf(master_port: u16, quorum: u32) -> String {
    format!(
        "sentinel resolve-hostnames yes\n\
         sentinel monitor {NAME} localhost {master_port} {quorum}\n\
         sentinel down-after-milliseconds {NAME} 1000\n\
         sentinel failover-timeout {NAME} 5000\n"
    )
}

/// What a sentinel reports about the master and its replica: GET-MASTER-ADDR-BY-NAME,
/// the `ip` of SENTINEL MASTER / REPLICAS / SENTINELS, the replica's name, INFO's
/// `address=`.
fn reported(port: u16) -> Vec<String> {
    let mut c = Client::connect(port);
    let addr = show(&c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME]));
    let master = frame_map(&c.cmd(&["SENTINEL", "MASTER", NAME]));
    let replicas = frame_maps(&c.cmd(&["SENTINEL", "REPLICAS", NAME]));
    let sentinels = frame_maps(&c.cmd(&["SENTINEL", "SENTINELS", NAME]));
    let info = c.text(&["INFO", "sentinel"]);
    let address = info
        .split(',')
        .find_map(|f| f.strip_prefix("address="))
        .unwrap_or_default()
        .to_string();
    let field = |m: &HashMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    let mut out = vec![
        format!("addr {addr}"),
        format!("master ip {}", field(&master, "ip")),
        format!("info address {address}"),
    ];
    for r in &replicas {
        out.push(format!(
            "replica {} ip {}",
            field(r, "name"),
            field(r, "ip")
        ));
    }
    for s in &sentinels {
        out.push(format!("sentinel ip {}", field(s, "ip")));
    }
    out
}

/// The `sentinel monitor` and `sentinel known-replica` lines of the config file of
/// the sentinel on `port` after a `SENTINEL FLUSHCONFIG`.
fn rewritten(dir: &Path, port: u16) -> Vec<String> {
    assert_eq!(
        show(&Client::connect(port).cmd(&["SENTINEL", "FLUSHCONFIG"])),
        "OK"
    );
    let text = std::fs::read_to_string(dir.join(format!("sentinel-{port}.conf"))).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("sentinel monitor ") || l.starts_with("sentinel known-replica "))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// `SENTINEL CONFIG SET announce-hostnames <v>` on the sentinel at `port`.
fn announce_hostnames(port: u16, v: &str) {
    let r = Client::connect(port).cmd(&["SENTINEL", "CONFIG", "SET", "announce-hostnames", v]);
    assert_eq!(show(&r), "OK");
}

/// A client of the sentinel on `port` subscribed to `channels` (confirmations read).
fn subscribe(port: u16, channels: &[&str]) -> Client {
    let mut s = Client::connect(port);
    s.stream
        .set_read_timeout(Some(Duration::from_secs(40)))
        .unwrap();
    s.send(&[&["SUBSCRIBE"], channels].concat());
    for _ in channels {
        s.read();
    }
    s
}

/// The next message on a subscription, as its payload.
fn next_message(sub: &mut Client) -> String {
    let f = sub.read();
    let items = f.into_items().unwrap_or_default();
    items.get(2).and_then(|p| p.as_text()).unwrap_or_default()
}

/// The next message on each subscription (vigil's, then redis-sentinel's) is `want`.
fn expect_next(subs: &mut [Client], want: &str) {
    for (s, who) in subs.iter_mut().zip(["vigil", "redis-sentinel"]) {
        assert_eq!(next_message(s), want, "{who}");
    }
}

#[test]
fn hostname_master_is_reported_like_redis_sentinel() {
    let set = SideBySide::start(1);
    let (dir, replica) = (&set.dir, &set.replica);
    let (mp, rp) = (set.master.port, replica.port);
    let ports = set.ports();
    let [v, r] = ports;

    // announce-hostnames no (the default): the IP `localhost` resolved to.
    let ip = |p: u16| format!("127.0.0.1:{p}");
    let expected = vec![
        format!("addr [127.0.0.1, {mp}]"),
        "master ip 127.0.0.1".to_string(),
        format!("info address {}", ip(mp)),
        format!("replica {} ip 127.0.0.1", ip(rp)),
        "sentinel ip 127.0.0.1".to_string(),
    ];
    assert_eq!(reported(v), expected, "vigil");
    assert_eq!(reported(r), expected, "redis-sentinel");
    let lines = vec![
        format!("sentinel known-replica {NAME} 127.0.0.1 {rp}"),
        format!("sentinel monitor {NAME} 127.0.0.1 {mp} 1"),
    ];
    assert_eq!(rewritten(dir.path(), v), lines, "vigil");
    assert_eq!(rewritten(dir.path(), r), lines, "redis-sentinel");

    // The same event line from both when the replica stops answering.
    let mut subs: Vec<Client> = ports.iter().map(|&p| subscribe(p, &["+sdown"])).collect();
    replica.stop();
    expect_next(
        &mut subs,
        &format!("slave {} 127.0.0.1 {rp} @ {NAME} 127.0.0.1 {mp}", ip(rp)),
    );
    replica.cont();

    // announce-hostnames yes: the name as given, at run time and in the rewrite.
    for p in ports {
        announce_hostnames(p, "yes");
    }
    for p in ports {
        let got = reported(p);
        assert_eq!(
            got[..3],
            [
                format!("addr [localhost, {mp}]"),
                "master ip localhost".to_string(),
                format!("info address localhost:{mp}"),
            ],
            "sentinel on {p}"
        );
        assert_eq!(
            rewritten(dir.path(), p)[1],
            format!("sentinel monitor {NAME} localhost {mp} 1"),
            "sentinel on {p}"
        );
    }
}

/// One vigil and one redis-sentinel, quorum 2, master given as `localhost`: each
/// needs the other's "down" answer to IS-MASTER-DOWN-BY-ADDR (sent with the IP) to
/// reach ODOWN. The replica may not be promoted until both have (priority 0: no
/// failover could outrun the slower one); then both announce the same
/// `+switch-master`.
#[test]
fn mixed_sentinels_agree_on_odown_of_a_hostname_master() {
    let set = SideBySide::start(2);
    let (master, replica) = (&set.master, &set.replica);
    let (mp, rp) = (master.port, replica.port);
    replica
        .client()
        .cmd(&["CONFIG", "SET", "replica-priority", "0"]);
    let ports = set.ports();
    let mut subs: Vec<Client> = ports
        .iter()
        .map(|&p| subscribe(p, &["+odown", "+switch-master"]))
        .collect();
    master.stop();
    expect_next(
        &mut subs,
        &format!("master {NAME} 127.0.0.1 {mp} #quorum 2/2"),
    );
    replica
        .client()
        .cmd(&["CONFIG", "SET", "replica-priority", "100"]);
    expect_next(&mut subs, &format!("{NAME} 127.0.0.1 {mp} 127.0.0.1 {rp}"));
    for p in ports {
        assert_eq!(
            sentinel_master_addr(p, NAME),
            Some(("127.0.0.1".into(), rp))
        );
    }
    master.cont();
}
