//! The SENTINEL command surface and the other commands a sentinel answers: reply
//! shapes, error strings, config persistence, votes durable before the reply, bad
//! input, scripts, AUTH.

mod support;

use std::time::Duration;
use support::*;

const NAME: &str = "mymaster";

fn setup(extra_conf: &str) -> (tempfile::TempDir, Proc, Proc) {
    let dir = temp_dir();
    let master = redis_server(dir.path(), &[]);
    let s = vigil_sentinel(
        dir.path(),
        &format!(
            "sentinel monitor {NAME} 127.0.0.1 {} 2\nsentinel down-after-milliseconds {NAME} 1000\n{extra_conf}",
            master.port
        ),
    );
    (dir, master, s)
}

fn conf_text(dir: &std::path::Path, port: u16) -> String {
    std::fs::read_to_string(dir.join(format!("sentinel-{port}.conf"))).unwrap()
}

#[test]
fn set_config_debug_and_persistence() {
    let (dir, _master, s) = setup("# a comment that must survive\nunknown-directive 42\n");
    let mut c = s.client();
    assert_eq!(c.text(&["PING"]), "PONG");
    // SET, several options at once; each is persisted.
    assert_eq!(
        c.text(&[
            "SENTINEL",
            "SET",
            NAME,
            "down-after-milliseconds",
            "1500",
            "quorum",
            "1",
            "parallel-syncs",
            "3",
            "failover-timeout",
            "9000"
        ]),
        "OK"
    );
    let m = frame_map(&c.cmd(&["SENTINEL", "MASTER", NAME]));
    assert_eq!(m["down-after-milliseconds"], "1500");
    assert_eq!(m["quorum"], "1");
    assert_eq!(m["parallel-syncs"], "3");
    assert_eq!(m["failover-timeout"], "9000");
    let text = conf_text(dir.path(), s.port);
    for l in [
        "sentinel down-after-milliseconds mymaster 1500",
        "sentinel parallel-syncs mymaster 3",
        "sentinel failover-timeout mymaster 9000",
        "# a comment that must survive",
        "unknown-directive 42",
    ] {
        assert!(text.contains(l), "missing {l:?} in\n{text}");
    }
    assert!(text.contains(&format!(
        "sentinel monitor {NAME} 127.0.0.1 {} 1",
        _master.port
    )));
    // Bad values: Redis's errors; options before the bad one stay applied.
    assert_eq!(
        c.text(&[
            "SENTINEL",
            "SET",
            NAME,
            "quorum",
            "2",
            "down-after-milliseconds",
            "-5"
        ]),
        "ERR Invalid argument '-5' for SENTINEL SET 'down-after-milliseconds'"
    );
    assert_eq!(
        frame_map(&c.cmd(&["SENTINEL", "MASTER", NAME]))["quorum"],
        "2"
    );
    assert_eq!(
        c.text(&["SENTINEL", "SET", NAME, "bogus", "1"]),
        "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'"
    );
    assert_eq!(
        c.text(&["SENTINEL", "SET", "nope", "quorum", "1"]),
        "ERR No such master with that name"
    );
    assert!(c
        .text(&["SENTINEL", "SET", NAME, "notification-script", "/bin/true"])
        .contains("denied for security reasons"));
    // auth-pass is shown masked in the +set event.
    let mut sub = s.client();
    sub.send(&["SUBSCRIBE", "+set"]);
    sub.read();
    assert_eq!(
        c.text(&["SENTINEL", "SET", NAME, "auth-pass", "secret"]),
        "OK"
    );
    let ev = sub.read().into_items().unwrap();
    assert_eq!(
        ev[2].as_text().unwrap(),
        format!("master {NAME} 127.0.0.1 {} auth-pass ******", _master.port)
    );
    assert_eq!(c.text(&["SENTINEL", "SET", NAME, "auth-pass", ""]), "OK");

    // CONFIG GET/SET.
    let cfg = frame_map(&c.cmd(&["SENTINEL", "CONFIG", "GET", "*"]));
    assert_eq!(cfg.len(), 7);
    assert_eq!(cfg["resolve-hostnames"], "no");
    assert_eq!(
        c.text(&["SENTINEL", "CONFIG", "SET", "announce-port", "1234"]),
        "OK"
    );
    assert_eq!(
        frame_map(&c.cmd(&["SENTINEL", "CONFIG", "GET", "announce-port"]))["announce-port"],
        "1234"
    );
    assert!(conf_text(dir.path(), s.port).contains("sentinel announce-port 1234"));
    assert!(c
        .text(&["SENTINEL", "CONFIG", "SET", "announce-port", "x"])
        .starts_with("ERR Invalid value"));
    assert_eq!(
        c.text(&["SENTINEL", "CONFIG", "SET", "announce-port", "0"]),
        "OK"
    );

    // DEBUG timers.
    let d = frame_map(&c.cmd(&["SENTINEL", "DEBUG"]));
    assert_eq!(d.len(), 13);
    assert_eq!(d["PING-PERIOD"], "1000");
    assert_eq!(
        c.text(&[
            "SENTINEL",
            "DEBUG",
            "info-period",
            "5000",
            "ping-period",
            "500"
        ]),
        "OK"
    );
    let d = frame_map(&c.cmd(&["SENTINEL", "DEBUG"]));
    assert_eq!(d["INFO-PERIOD"], "5000");
    assert!(c
        .text(&["SENTINEL", "DEBUG", "info-period", "0"])
        .starts_with("ERR Invalid argument"));
    assert!(c
        .text(&["SENTINEL", "DEBUG", "nope", "1"])
        .starts_with("ERR Unknown option"));

    // MONITOR / REMOVE / RESET / FLUSHCONFIG.
    assert_eq!(
        c.text(&["SENTINEL", "MONITOR", "other", "127.0.0.1", "1", "1"]),
        "OK"
    );
    assert_eq!(
        c.text(&["SENTINEL", "MONITOR", "other", "127.0.0.1", "1", "1"]),
        "ERR Duplicate master name."
    );
    assert_eq!(
        c.text(&["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"]),
        "ERR Quorum must be 1 or greater."
    );
    assert_eq!(
        c.text(&["SENTINEL", "MONITOR", "x", "127.0.0.1", "99999", "1"]),
        "ERR Invalid port number."
    );
    assert_eq!(
        c.text(&["SENTINEL", "MONITOR", "x", "not-an-ip", "1", "1"]),
        "ERR Invalid IP address or hostname specified"
    );
    assert_eq!(
        c.text(&["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "q"]),
        "ERR Invalid quorum"
    );
    assert!(conf_text(dir.path(), s.port).contains("sentinel monitor other 127.0.0.1 1 1"));
    assert_eq!(frame_maps(&c.cmd(&["SENTINEL", "MASTERS"])).len(), 2);
    assert_eq!(c.cmd(&["SENTINEL", "RESET", "oth*"]), Frame::Integer(1));
    assert_eq!(c.text(&["SENTINEL", "REMOVE", "other"]), "OK");
    assert_eq!(
        c.text(&["SENTINEL", "REMOVE", "other"]),
        "ERR No such master with that name"
    );
    assert!(!conf_text(dir.path(), s.port).contains("sentinel monitor other"));
    assert_eq!(c.text(&["SENTINEL", "FLUSHCONFIG"]), "OK");

    // INFO-CACHE, PENDING-SCRIPTS, HELP, MYID, unknown subcommand.
    wait_for("INFO cached", Duration::from_secs(5), || {
        let ic = c
            .cmd(&["SENTINEL", "INFO-CACHE", NAME])
            .into_items()
            .unwrap();
        let entries = ic[1].clone().into_items().unwrap();
        let first = entries[0].clone().into_items().unwrap();
        first[1]
            .as_text()
            .filter(|t| t.contains("run_id:"))
            .map(|_| ())
    });
    assert_eq!(
        c.cmd(&["SENTINEL", "PENDING-SCRIPTS"]),
        Frame::Array(vec![])
    );
    assert!(c.cmd(&["SENTINEL", "HELP"]).into_items().unwrap().len() > 10);
    assert_eq!(c.text(&["SENTINEL", "MYID"]).len(), 40);
    assert!(c
        .text(&["SENTINEL", "NOPE"])
        .starts_with("ERR unknown subcommand 'NOPE'"));
    assert!(c
        .text(&["SENTINEL", "MASTER"])
        .starts_with("ERR wrong number of arguments"));
    assert!(c
        .text(&["GET", "x"])
        .starts_with("ERR unknown command 'GET'"));
}

#[test]
fn votes_are_durable_before_the_reply() {
    let (dir, master, s) = setup("");
    let mut c = s.client();
    let peer = "0123456789abcdef0123456789abcdef01234567";
    let mp = master.port.to_string();
    let r = c.cmd(&[
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        &mp,
        "7",
        peer,
    ]);
    assert_eq!(
        r,
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::bulk_str(peer),
            Frame::Integer(7)
        ])
    );
    // Read the file right after the reply: the vote and the epoch are there.
    let text = conf_text(dir.path(), s.port);
    assert!(text.contains("sentinel leader-epoch mymaster 7"), "{text}");
    assert!(text.contains("sentinel current-epoch 7"), "{text}");
    // One vote per epoch: another candidate gets the earlier vote back.
    let other = "fedcba9876543210fedcba9876543210fedcba98";
    let r = c.cmd(&[
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        &mp,
        "7",
        other,
    ]);
    assert_eq!(
        r,
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::bulk_str(peer),
            Frame::Integer(7)
        ])
    );
    // "*" asks only for the down state; unknown addresses are not down.
    let r = c.cmd(&[
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        "1",
        "0",
        "*",
    ]);
    assert_eq!(
        r,
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::bulk_str("*"),
            Frame::Integer(0)
        ])
    );
    assert!(c
        .text(&[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "x",
            "0",
            "*"
        ])
        .starts_with("ERR value is not an integer"));
    // A restart keeps the epoch.
    drop(c);
    let conf = dir.path().join(format!("sentinel-{}.conf", s.port));
    let port = s.port;
    drop(s);
    let s2 = vigil_sentinel_at(dir.path(), port, &conf);
    let r = s2.client().cmd(&[
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        &mp,
        "7",
        other,
    ]);
    // The leader-epoch survived: no second vote in epoch 7 (Redis persists the
    // epoch of the vote, not the run id, so the reply carries no leader).
    let items = r.into_items().unwrap();
    assert_ne!(
        items[1].as_text().unwrap(),
        other,
        "voted twice in one epoch"
    );
    assert_eq!(items[2], Frame::Integer(7));
    // A later epoch gets a vote.
    let r = s2.client().cmd(&[
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        &mp,
        "8",
        other,
    ]);
    assert_eq!(
        r,
        Frame::Array(vec![
            Frame::Integer(0),
            Frame::bulk_str(other),
            Frame::Integer(8)
        ])
    );
}

#[test]
fn bad_input_never_hurts() {
    let (_dir, master, s) = setup("");
    let mut c = s.client();
    // Malformed hellos pushed by PUBLISH are ignored; other channels refused.
    for payload in [
        "",
        "garbage",
        "1,2,3,4,5,6,7,8",
        "127.0.0.1,abc,0123456789abcdef0123456789abcdef01234567,1,mymaster,127.0.0.1,1,1",
        "127.0.0.1,5000,0123456789abcdef0123456789abcdef01234567,1,unknownmaster,127.0.0.1,1,1",
    ] {
        assert_eq!(
            c.cmd(&["PUBLISH", "__sentinel__:hello", payload]),
            Frame::Integer(1)
        );
    }
    assert_eq!(
        c.text(&["PUBLISH", "other", "x"]),
        "ERR Only HELLO messages are accepted by Sentinel instances."
    );
    assert_eq!(
        frame_maps(&c.cmd(&["SENTINEL", "SENTINELS", NAME])).len(),
        0
    );
    // A valid hello from a phantom peer is learnt (as Redis does).
    let hello = format!(
        "127.0.0.1,1,0123456789abcdef0123456789abcdef01234567,0,{NAME},127.0.0.1,{},0",
        master.port
    );
    assert_eq!(
        c.cmd(&["PUBLISH", "__sentinel__:hello", &hello]),
        Frame::Integer(1)
    );
    assert_eq!(
        frame_maps(&c.cmd(&["SENTINEL", "SENTINELS", NAME])).len(),
        1
    );
    // Protocol garbage closes that connection only.
    let mut bad = s.client();
    bad.send_raw(b"*1\r\n$-5\r\n");
    let r = bad.read();
    assert!(
        r.as_text().unwrap().starts_with("ERR Protocol error"),
        "{r:?}"
    );
    assert!(bad.is_closed());
    let mut bad = s.client();
    bad.send_raw(b"*2\r\n$4\r\nPING\r\n:12\r\n");
    assert!(bad
        .read()
        .as_text()
        .unwrap()
        .starts_with("ERR Protocol error"));
    // Inline commands work, as in Redis.
    let mut inline = s.client();
    inline.send_raw(b"PING\r\n");
    assert_eq!(inline.read(), Frame::Simple("PONG".into()));
    assert_eq!(c.text(&["PING"]), "PONG");
    // CLIENT and friends.
    assert_eq!(c.text(&["CLIENT", "SETNAME", "tester"]), "OK");
    assert_eq!(c.text(&["CLIENT", "GETNAME"]), "tester");
    assert!(c.text(&["CLIENT", "LIST"]).contains("name=tester"));
    assert!(c
        .text(&["CLIENT", "SETNAME", "a b"])
        .starts_with("ERR Client names cannot"));
    assert!(c
        .text(&["CLIENT", "NOPE"])
        .starts_with("ERR unknown subcommand"));
    assert_eq!(c.text(&["CLIENT", "SETINFO", "LIB-NAME", "x"]), "OK");
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]), Frame::bulk_str("default"));
    assert!(matches!(c.cmd(&["COMMAND", "COUNT"]), Frame::Integer(15)));
    // Subscribed RESP2 clients may only (un)subscribe and ping.
    let mut sub = s.client();
    sub.send(&["PSUBSCRIBE", "*"]);
    sub.read();
    assert!(sub
        .text(&["SENTINEL", "MYID"])
        .starts_with("ERR Can't execute 'sentinel'"));
    let pong = sub.cmd(&["PING"]).into_items().unwrap();
    assert_eq!(pong[0].as_text().unwrap(), "pong");
    // The sentinel still works.
    assert_eq!(frame_maps(&c.cmd(&["SENTINEL", "MASTERS"])).len(), 1);
}

#[test]
fn requirepass_and_auth() {
    let (_dir, _master, s) = setup("requirepass sekret\n");
    let mut c = s.client();
    assert_eq!(
        c.text(&["SENTINEL", "MYID"]),
        "NOAUTH Authentication required."
    );
    assert!(c.text(&["AUTH", "wrong"]).starts_with("WRONGPASS"));
    assert_eq!(c.text(&["AUTH", "sekret"]), "OK");
    assert_eq!(c.text(&["SENTINEL", "MYID"]).len(), 40);
    let mut c2 = s.client();
    let h = c2.cmd(&["HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "x"]);
    assert_eq!(frame_map(&h)["proto"], "3");
    assert_eq!(c2.text(&["CLIENT", "GETNAME"]), "x");
    assert_eq!(
        redis_cli(s.port, &["-a", "sekret", "--no-auth-warning", "PING"]),
        "PONG"
    );
}

#[test]
fn notification_script_runs_for_warning_events() {
    let dir = temp_dir();
    let out = dir.path().join("events.txt");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1 $2\" >> {}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let master = redis_server(dir.path(), &[]);
    let s = vigil_sentinel(
        dir.path(),
        &format!(
            "sentinel monitor {NAME} 127.0.0.1 {} 1\nsentinel down-after-milliseconds {NAME} 500\nsentinel notification-script {NAME} {}\n",
            master.port,
            script.display()
        ),
    );
    master.stop();
    wait_for("+sdown reached the script", Duration::from_secs(10), || {
        let t = std::fs::read_to_string(&out).unwrap_or_default();
        t.contains(&format!("+sdown master {NAME} 127.0.0.1 {}", master.port))
            .then_some(())
    });
    master.cont();
    let _ = s;
}

/// CLIENT LIST's `cmd=` field and HELLO 3's map, next to redis-sentinel's: the last
/// command by its full name (`sentinel|masters`, `ping`), no `role` in sentinel mode.
#[test]
fn client_list_and_hello_like_redis_sentinel() {
    let dir = temp_dir();
    let seen = |s: &Proc| {
        let mut a = Client::connect(s.port);
        let mut b = Client::connect(s.port);
        let id = match a.cmd(&["CLIENT", "ID"]) {
            Frame::Integer(i) => i,
            f => panic!("CLIENT ID: {f:?}"),
        };
        let mut cmds = Vec::new();
        for step in [
            &["SENTINEL", "MASTERS"][..],
            &["PING"],
            &["CLIENT", "GETNAME"],
        ] {
            a.cmd(step);
            let list = b.text(&["CLIENT", "LIST"]);
            let line = list
                .lines()
                .find(|l| l.starts_with(&format!("id={id} ")))
                .unwrap_or_else(|| panic!("no id={id} in {list}"))
                .to_string();
            let cmd = line
                .split(' ')
                .find_map(|f| f.strip_prefix("cmd="))
                .unwrap()
                .to_string();
            cmds.push(cmd);
        }
        let keys = match a.cmd(&["HELLO", "3"]) {
            Frame::Map(m) => m.iter().map(|(k, _)| format!("{k:?}")).collect::<Vec<_>>(),
            f => panic!("HELLO 3: {f:?}"),
        };
        (cmds, keys)
    };
    let vigil = vigil_sentinel(dir.path(), "");
    let redis = redis_sentinel(dir.path(), "");
    let (v, r) = (seen(&vigil), seen(&redis));
    assert_eq!(r.0, ["sentinel|masters", "ping", "client|getname"]);
    assert_eq!(v, r);
}

/// INFO's sections and field names, in order, as redis-sentinel 7.0 prints them
/// (default, `all`, and sections asked out of order); the traffic counters count.
#[test]
fn info_fields_like_redis_sentinel() {
    let dir = temp_dir();
    let names = |s: &Proc, args: &[&str]| {
        let mut c = Client::connect(s.port);
        c.cmd(&["PING"]);
        c.cmd(&["SENTINEL", "NO-SUCH-SUBCOMMAND"]);
        let text = c.text(args);
        let fields: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect();
        (fields, text)
    };
    let vigil = vigil_sentinel(dir.path(), "");
    let redis = redis_sentinel(dir.path(), "");
    for args in [
        &["INFO"][..],
        &["INFO", "all"],
        &["INFO", "cpu", "server", "stats"],
    ] {
        let (v, _) = names(&vigil, args);
        let (r, _) = names(&redis, args);
        assert_eq!(v, r, "{args:?}");
    }
    let (_, text) = names(&vigil, &["INFO", "stats"]);
    let field = |k: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(field("total_net_input_bytes") > 0);
    assert!(field("total_net_output_bytes") > 0);
    assert!(field("total_reads_processed") >= 3);
    assert!(field("total_writes_processed") >= 2);
    assert!(field("total_error_replies") >= 1);
}

/// Error replies for bad subcommands and arguments, next to redis-sentinel 7.0's
/// (and SHUTDOWN with a bad argument is refused, not carried out).
#[test]
fn error_replies_like_redis_sentinel() {
    let dir = temp_dir();
    let master = redis_server(dir.path(), &[]);
    let conf = format!("sentinel monitor {NAME} 127.0.0.1 {} 2\n", master.port);
    let vigil = vigil_sentinel(dir.path(), &conf);
    let redis = redis_sentinel(dir.path(), &conf);
    let cases: &[&[&str]] = &[
        &["SHUTDOWN", "foo"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "SAVE", "NOSAVE"],
        &["CLIENT", "no-such"],
        &["CLIENT", "SETNAME"],
        &["CLIENT", "GETNAME", "x"],
        &["CLIENT", "ID", "x"],
        &["CLIENT", "INFO", "x"],
        &["CLIENT", "KILL"],
        &["CLIENT", "LIST", "x"],
        &["CLIENT", "LIST", "TYPE", "foo"],
        &["CLIENT", "LIST", "ID", "x"],
        &["CLIENT", "LIST", "ID"],
        &["ACL", "foo"],
        &["ACL", "SETUSER"],
        &["ACL", "DELUSER"],
        &["ACL", "WHOAMI", "x"],
        &["SENTINEL", "DEBUG", "nosuch"],
        &["SENTINEL", "DEBUG", "ping-period"],
        &["SENTINEL", "DEBUG", "ping-period", "abc"],
        &["SENTINEL", "SET", NAME, "notification-script", "/x"],
    ];
    let mut v = Client::connect(vigil.port);
    let mut r = Client::connect(redis.port);
    for args in cases {
        let (fv, fr) = (v.cmd(args), r.cmd(args));
        assert!(fr.is_error(), "{args:?}: redis {fr:?}");
        assert_eq!(fv, fr, "{args:?}");
    }
    assert_eq!(v.cmd(&["PING"]), r.cmd(&["PING"]));
}

/// COMMAND INFO entries (name, arity, flags, key positions, ACL categories) next to
/// redis-sentinel 7.0's.
#[test]
fn command_info_like_redis_sentinel() {
    let dir = temp_dir();
    let vigil = vigil_sentinel(dir.path(), "");
    let redis = redis_sentinel(dir.path(), "");
    let entries = |port: u16| {
        let mut c = Client::connect(port);
        ["sentinel", "ping", "publish", "subscribe"]
            .iter()
            .map(|name| match c.cmd(&["COMMAND", "INFO", name]) {
                Frame::Array(v) => match &v[0] {
                    Frame::Array(e) => e[..7].iter().map(show).collect::<Vec<_>>().join(" "),
                    f => format!("{f:?}"),
                },
                f => format!("{f:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(entries(vigil.port), entries(redis.port));
}
