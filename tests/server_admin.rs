//! `vigil server` administration and connection semantics, end to end: AUTH and
//! requirepass, HELLO 2/3, RESP3 shapes, MULTI/EXEC/WATCH, pub/sub in both
//! protocols, CONFIG GET/SET/REWRITE (round trip through a restart), INFO, CLIENT,
//! COMMAND, DEBUG, SHUTDOWN. Where Redis's exact reply matters, the same script runs
//! against the Debian redis-server and the replies are compared.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

fn bulk(f: &Frame) -> String {
    f.as_text().unwrap_or_else(|| format!("{f:?}"))
}

fn items(f: Frame) -> Vec<Frame> {
    f.into_items().expect("aggregate reply")
}

/// Run the same commands on a fresh vigil server and a fresh redis-server and assert
/// identical replies. A successful HELLO is not compared (its `id` differs).
fn compare(extra: &[&str], script: &[&[&str]]) {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), extra);
    let r = redis_server(dir.path(), extra);
    let mut vc = v.client();
    let mut rc = r.client();
    for cmd in script {
        let a = vc.cmd(cmd);
        let b = rc.cmd(cmd);
        if cmd[0] == "HELLO" && !b.is_error() {
            assert!(!a.is_error(), "HELLO {cmd:?}: {a:?}");
            continue;
        }
        assert_eq!(a, b, "reply to {cmd:?} differs (left vigil, right redis)");
    }
}

/// Like `compare`, for commands with any number of reply frames (pub/sub): each
/// command is followed by `PING <marker>` and every frame up to the marker's reply
/// is compared.
fn compare_frames(script: &[&[&str]]) {
    let dir = temp_dir();
    let v = vigil_server(dir.path(), &[]);
    let r = redis_server(dir.path(), &[]);
    let mut vc = v.client();
    let mut rc = r.client();
    let is_marker = |f: &Frame| match f {
        Frame::Bulk(b) => &b[..] == b"__end__",
        Frame::Array(v) | Frame::Push(v) => {
            v.len() == 2 && v[1].as_bytes() == Some(&b"__end__"[..])
        }
        _ => false,
    };
    for cmd in script {
        let mut got = Vec::new();
        for c in [&mut vc, &mut rc] {
            c.send(cmd);
            c.send(&["PING", "__end__"]);
            let mut frames = Vec::new();
            loop {
                let f = c.read();
                if is_marker(&f) {
                    frames.push(f);
                    break;
                }
                frames.push(f);
            }
            got.push(frames);
        }
        if cmd[0] == "HELLO" {
            continue;
        }
        assert_eq!(
            got[0], got[1],
            "replies to {cmd:?} differ (left vigil, right redis)"
        );
    }
}

#[test]
fn auth_and_requirepass() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &["--requirepass", "s3cret"]);
    let mut c = s.client();
    assert_eq!(c.text(&["PING"]), "NOAUTH Authentication required.");
    // Unknown command and arity errors come before the auth check.
    assert!(c
        .text(&["NOSUCH"])
        .starts_with("ERR unknown command 'NOSUCH'"));
    assert_eq!(
        c.text(&["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        c.text(&["AUTH", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert!(c
        .text(&["HELLO", "3"])
        .starts_with("NOAUTH HELLO must be called with the client already authenticated"));
    assert_eq!(c.text(&["AUTH", "s3cret"]), "OK");
    assert_eq!(c.text(&["PING"]), "PONG");

    // HELLO AUTH authenticates, switches protocol and names the connection at once.
    let mut c2 = s.client();
    let hello = c2.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "cli"]);
    match hello {
        Frame::Map(pairs) => {
            assert_eq!(bulk(&pairs[0].0), "server");
            assert_eq!(bulk(&pairs[2].0), "proto");
            assert_eq!(pairs[2].1, Frame::Integer(3));
        }
        other => panic!("HELLO 3 should answer a map, got {other:?}"),
    }
    assert_eq!(c2.text(&["CLIENT", "GETNAME"]), "cli");
    let mut c3 = s.client();
    assert_eq!(
        c3.text(&["HELLO", "3", "AUTH", "default", "nope"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    // CONFIG SET requirepass takes effect for new connections.
    assert_eq!(c.text(&["CONFIG", "SET", "requirepass", "other"]), "OK");
    let mut c4 = s.client();
    assert_eq!(
        c4.text(&["AUTH", "s3cret"]).split(' ').next(),
        Some("WRONGPASS")
    );
    assert_eq!(c4.text(&["AUTH", "other"]), "OK");
}

#[test]
fn auth_errors_match_redis() {
    compare(
        &["--requirepass", "pw"],
        &[
            &["PING"],
            &["AUTH", "a", "b", "c"],
            &["AUTH", "nope"],
            &["AUTH", "default", "nope"],
            &["HELLO", "3"],
            &["HELLO", "4"],
            &["HELLO", "x"],
            &["AUTH", "pw"],
            &["PING"],
        ],
    );
    compare(&[], &[&["AUTH", "x"], &["AUTH", "default", "anything"]]);
}

#[test]
fn hello_and_resp3_shapes_match_redis() {
    // Everything except `id` (connection counters differ) must match byte for byte.
    compare(
        &[],
        &[
            &["HELLO", "4"],
            &["HELLO", "abc"],
            &["HELLO", "3", "FOO"],
            &["SET", "k", "v"],
            &["GET", "nokey"],
            &["MGET", "k", "nokey"],
            &["HELLO", "3", "SETNAME", "bad name"],
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "GET", "nomatch*"],
            &["CLIENT", "GETNAME"],
            &["CLIENT", "SETNAME", "bad name"],
            &["CLIENT", "NOSUCH"],
            &["CLIENT", "KILL", "127.0.0.1:1"],
            &["CLIENT", "KILL", "ID", "abc"],
            &["CLIENT", "KILL", "TYPE", "bogus"],
            &["CLIENT", "KILL", "MAXAGE", "10"],
            &["CLIENT", "LIST", "TYPE", "master"],
            &["CLIENT", "LIST", "FOO"],
            &["CLIENT", "REPLY", "maybe"],
            &["CONFIG", "SET", "maxmemory", "0", "hz"],
            &["CONFIG", "SET", "nosuch", "1"],
            &["CONFIG", "SET", "databases", "4"],
            &["CONFIG", "SET", "maxmemory", "5mb", "hz", "abc"],
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "NOSUCH"],
            &["CONFIG"],
            &["COMMAND", "INFO", "nosuchcmd"],
            &["COMMAND", "GETKEYS", "PING"],
            &["COMMAND", "GETKEYS", "SET", "k", "v"],
            &["COMMAND", "GETKEYS", "NOSUCH", "a", "b"],
            &["SHUTDOWN", "SAVE", "NOSAVE"],
            &["SHUTDOWN", "ABORT"],
            &["SHUTDOWN", "BOGUS"],
            &["LASTSAVE", "x"],
            &["INFO", "nosuchsection"],
            &["PUBSUB", "NUMSUB", "a", "b"],
            &["PUBSUB", "NUMPAT"],
            &["PUBSUB", "CHANNELS"],
            &["PUBSUB", "NOSUCH"],
            &["UNSUBSCRIBE"],
            &["PUNSUBSCRIBE"],
            &["HELLO", "3"],
            &["GET", "nokey"],
            &["MGET", "k", "nokey"],
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "GET", "nomatch*"],
            &["CLIENT", "GETNAME"],
            &["CLIENT", "TRACKINGINFO"],
            &["COMMAND", "INFO", "nosuchcmd"],
            &["PUBSUB", "NUMSUB", "a", "b"],
            &["UNSUBSCRIBE"],
            &["HELLO", "2"],
            &["GET", "nokey"],
        ],
    );
}

#[test]
fn multi_exec_watch() {
    compare(
        &[],
        &[
            &["MULTI"],
            &["SET", "a", "1"],
            &["INCR", "a"],
            &["GET", "nokey"],
            &["EXEC"],
            &["EXEC"],
            &["DISCARD"],
            &["MULTI"],
            &["MULTI"],
            &["FOO"],
            &["GET"],
            &["SET", "b", "1"],
            &["EXEC"],
            &["MULTI"],
            &["SHUTDOWN"],
            &["EXEC"],
            &["MULTI"],
            &["SET", "s", "str"],
            &["INCR", "s"],
            &["SET", "c", "2"],
            &["EXEC"],
            &["MULTI"],
            &["EXEC"],
            &["MULTI"],
            &["WATCH", "x"],
            &["DISCARD"],
        ],
    );
    // WATCH invalidation by another client, in both protocols.
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    for proto in ["2", "3"] {
        let mut a = s.client();
        let mut b = s.client();
        a.cmd(&["HELLO", proto]);
        assert_eq!(a.text(&["WATCH", "w"]), "OK");
        assert_eq!(b.text(&["SET", "w", "changed"]), "OK");
        assert_eq!(a.text(&["MULTI"]), "OK");
        assert_eq!(a.text(&["SET", "w", "mine"]), "QUEUED");
        let r = a.cmd(&["EXEC"]);
        assert!(
            matches!(r, Frame::NullArray | Frame::Null),
            "EXEC after a touched WATCH should be null, got {r:?}"
        );
        assert_eq!(b.text(&["GET", "w"]), "changed");
        // Without interference the transaction runs.
        a.cmd(&["WATCH", "w"]);
        a.cmd(&["MULTI"]);
        a.cmd(&["SET", "w", "mine"]);
        assert_eq!(a.cmd(&["EXEC"]), Frame::Array(vec![Frame::ok()]));
        assert_eq!(b.text(&["GET", "w"]), "mine");
    }
}

#[test]
fn pubsub_resp2_matches_redis() {
    compare_frames(&[
        &["SUBSCRIBE", "a", "b", "a"],
        &["PSUBSCRIBE", "p*"],
        &["GET", "x"],
        &["PING"],
        &["PING", "hi"],
        &["UNSUBSCRIBE", "zz"],
        &["UNSUBSCRIBE", "a"],
        &["UNSUBSCRIBE", "b"],
        &["PUNSUBSCRIBE", "p*"],
        &["GET", "x"],
        &["PING"],
        &["HELLO", "3"],
        &["SUBSCRIBE", "c"],
        &["GET", "x"],
        &["UNSUBSCRIBE"],
    ]);
}

#[test]
fn pubsub_delivery_both_protocols() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut sub2 = s.client();
    let mut sub3 = s.client();
    let mut publisher = s.client();
    sub3.cmd(&["HELLO", "3"]);

    // RESP2: confirmations are arrays, one per channel.
    sub2.send(&["SUBSCRIBE", "news", "other"]);
    assert_eq!(
        sub2.read(),
        Frame::Array(vec![
            Frame::bulk_str("subscribe"),
            Frame::bulk_str("news"),
            Frame::Integer(1)
        ])
    );
    assert_eq!(items(sub2.read())[2], Frame::Integer(2));
    assert_eq!(items(sub2.cmd(&["PSUBSCRIBE", "n*"]))[2], Frame::Integer(3));
    // RESP3: confirmations are pushes, and normal commands still work.
    let conf = sub3.cmd(&["SUBSCRIBE", "news"]);
    assert!(matches!(conf, Frame::Push(_)), "{conf:?}");
    assert!(matches!(sub3.cmd(&["PSUBSCRIBE", "ne?s"]), Frame::Push(_)));
    assert_eq!(sub3.text(&["SET", "k", "v"]), "OK");
    assert_eq!(sub3.text(&["PING"]), "PONG");

    // news: sub2 (channel + n*) and sub3 (channel + ne?s) = 4 receivers.
    assert_eq!(
        publisher.cmd(&["PUBLISH", "news", "hello"]),
        Frame::Integer(4)
    );
    let m = sub2.read();
    assert_eq!(
        m,
        Frame::Array(vec![
            Frame::bulk_str("message"),
            Frame::bulk_str("news"),
            Frame::bulk_str("hello")
        ])
    );
    assert_eq!(
        sub2.read(),
        Frame::Array(vec![
            Frame::bulk_str("pmessage"),
            Frame::bulk_str("n*"),
            Frame::bulk_str("news"),
            Frame::bulk_str("hello")
        ])
    );
    let mut got3 = vec![sub3.read(), sub3.read()];
    got3.sort_by_key(|f| format!("{f:?}"));
    assert!(got3.iter().all(|f| matches!(f, Frame::Push(_))), "{got3:?}");
    assert!(got3
        .iter()
        .any(|f| matches!(f, Frame::Push(v) if v.len() == 4 && bulk(&v[1]) == "ne?s")));

    assert_eq!(
        publisher.cmd(&["PUBLISH", "nobody", "x"]),
        Frame::Integer(1),
        "n* matches 'nobody'"
    );
    assert_eq!(
        items(publisher.cmd(&["PUBSUB", "NUMSUB", "news", "other", "none"])),
        vec![
            Frame::bulk_str("news"),
            Frame::Integer(2),
            Frame::bulk_str("other"),
            Frame::Integer(1),
            Frame::bulk_str("none"),
            Frame::Integer(0)
        ]
    );
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), Frame::Integer(2));
    let chans = items(publisher.cmd(&["PUBSUB", "CHANNELS", "n*"]));
    assert_eq!(chans, vec![Frame::bulk_str("news")]);
    // A pubsub client shows up as such, and CLIENT KILL TYPE pubsub drops it.
    let list = publisher.text(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("flags=P"), "{list}");
    assert_eq!(
        publisher.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]),
        Frame::Integer(2)
    );
    let _ = sub2.try_read(); // pmessage for 'nobody', then EOF
    assert!(sub2.is_closed());
    wait_for("subscriptions dropped", Duration::from_secs(5), || {
        (publisher.cmd(&["PUBSUB", "NUMPAT"]) == Frame::Integer(0)).then_some(())
    });
}

#[test]
fn client_commands() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    // b connects after a is registered, so ids and list order are a then b.
    let mut a = s.client();
    let id_a = a.cmd(&["CLIENT", "ID"]).as_int().unwrap();
    let mut b = s.client();
    let id_b = b.cmd(&["CLIENT", "ID"]).as_int().unwrap();
    assert!(id_b > id_a);
    assert_eq!(a.text(&["CLIENT", "SETNAME", "alpha"]), "OK");
    assert_eq!(a.text(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]), "OK");
    assert_eq!(a.text(&["CLIENT", "SETINFO", "LIB-VER", "1.2"]), "OK");
    assert!(a
        .text(&["CLIENT", "SETINFO", "FOO", "x"])
        .starts_with("ERR Unrecognized option"));
    assert_eq!(
        a.text(&["CLIENT", "MAINT_NOTIFICATIONS", "ON"]),
        "ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP."
    );
    let info = a.text(&["CLIENT", "INFO"]);
    assert!(
        info.starts_with(&format!("id={id_a} addr=127.0.0.1:")),
        "{info}"
    );
    assert!(info.contains(" name=alpha "), "{info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    assert!(info.ends_with('\n'));
    // The spawner's readiness probe connection may not be reaped yet: wait for it.
    let list = wait_for(
        "only a and b in CLIENT LIST",
        Duration::from_secs(5),
        || {
            let l = b.text(&["CLIENT", "LIST"]);
            (l.lines().count() == 2).then_some(l)
        },
    );
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with(&format!("id={id_a} ")),
        "connection order"
    );
    assert!(lines[0].contains("lib-name=mylib"));
    let only_b = b.text(&["CLIENT", "LIST", "ID", &id_b.to_string()]);
    assert_eq!(only_b.lines().count(), 1);
    assert_eq!(
        b.text(&["CLIENT", "LIST", "ID", "x"]),
        "ERR Invalid client ID"
    );
    // RESP3: CLIENT LIST is verbatim text.
    b.cmd(&["HELLO", "3"]);
    assert!(matches!(b.cmd(&["CLIENT", "LIST"]), Frame::Verbatim(_)));
    assert_eq!(b.cmd(&["CLIENT", "GETNAME"]), Frame::Null);

    // CLIENT REPLY OFF / SKIP / ON.
    let mut c = s.client();
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["SET", "quiet", "1"]);
    c.send(&["CLIENT", "REPLY", "ON"]);
    assert_eq!(c.read(), Frame::ok());
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    c.send(&["GET", "quiet"]);
    c.send(&["ECHO", "after"]);
    assert_eq!(c.read(), Frame::bulk_str("after"));

    // CLIENT KILL: new form skips the caller by default, old form by address.
    let addr_a = info
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", "ID", &id_b.to_string()]),
        Frame::Integer(0),
        "SKIPME yes by default"
    );
    assert_eq!(b.text(&["CLIENT", "KILL", &addr_a]), "OK");
    assert!(a.is_closed());
    assert_eq!(b.text(&["CLIENT", "KILL", &addr_a]), "ERR No such client");
    wait_for("killed client unregistered", Duration::from_secs(5), || {
        (b.text(&["CLIENT", "LIST"]).lines().count() == 2).then_some(())
    });
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", "USER", "default", "SKIPME", "yes"]),
        Frame::Integer(1)
    );
    assert!(c.is_closed());
    assert_eq!(
        b.text(&["CLIENT", "KILL", "USER", "nobody"]),
        "ERR No such user 'nobody'"
    );
    // Killing yourself: the reply comes first, then EOF.
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", "ID", &id_b.to_string(), "SKIPME", "no"]),
        Frame::Integer(1)
    );
    assert!(b.is_closed());
}

#[test]
fn info_sections_and_fields() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "c", "3"]);
    c.cmd(&["INCR", "nope", "x"]);
    let info = c.text(&["INFO"]);
    let order = [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Modules",
        "# Errorstats",
        "# Cluster",
        "# Keyspace",
    ];
    let mut last = 0;
    for h in order {
        let at = info
            .find(h)
            .unwrap_or_else(|| panic!("{h} missing:\n{info}"));
        assert!(at >= last, "{h} out of order");
        last = at;
    }
    assert!(!info.contains("# Commandstats"));
    let run_id = info_field(&info, "run_id").unwrap();
    assert_eq!(run_id.len(), 40);
    assert!(run_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(info_field(&info, "redis_version").unwrap(), "7.0.15");
    assert_eq!(info_field(&info, "tcp_port").unwrap(), s.port.to_string());
    // The spawn helper's readiness probe may still be registered for a moment.
    wait_for("only this client connected", Duration::from_secs(5), || {
        let clients = c.text(&["INFO", "clients"]);
        (info_field(&clients, "connected_clients").as_deref() == Some("1")).then_some(())
    });
    assert_eq!(info_field(&info, "role").unwrap(), "master");
    assert_eq!(info_field(&info, "loading").unwrap(), "0");
    assert_eq!(
        info_field(&info, "db0").unwrap(),
        "keys=2,expires=0,avg_ttl=0"
    );
    assert_eq!(
        info_field(&info, "db2").unwrap(),
        "keys=1,expires=0,avg_ttl=0"
    );
    assert!(
        info_field(&info, "used_memory")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(info_field(&info, "errorstat_ERR").is_some(), "{info}");
    assert!(info.contains("\r\n\r\n# Clients\r\n"));
    assert!(!info.ends_with("\r\n\r\n"));

    // Sections in fixed order whatever the request order; case-insensitive; dupes.
    let two = c.text(&["INFO", "REPLICATION", "clients", "clients"]);
    assert!(two.starts_with("# Clients\r\n"), "{two}");
    assert_eq!(two.matches("# Clients").count(), 1);
    assert!(two.contains("\r\n\r\n# Replication\r\n"));
    let all = c.text(&["INFO", "all"]);
    assert!(all.contains("# Commandstats"));
    assert!(
        all.contains("cmdstat_set:calls=3,"),
        "commandstats count SET calls:\n{all}"
    );
    let everything = c.text(&["INFO", "everything"]);
    assert!(everything.contains("# Commandstats"));
    let def = c.text(&["INFO", "default", "commandstats"]);
    assert!(def.contains("# Keyspace") && def.contains("# Commandstats"));
    // RESP3: verbatim.
    c.cmd(&["HELLO", "3"]);
    assert!(matches!(c.cmd(&["INFO", "server"]), Frame::Verbatim(_)));
    // CONFIG RESETSTAT clears the counters.
    assert_eq!(c.text(&["CONFIG", "RESETSTAT"]), "OK");
    let stats = c.text(&["INFO", "commandstats"]);
    assert!(!stats.contains("cmdstat_set"), "{stats}");

    // A new run_id at each start.
    let s2 = vigil_server(dir.path(), &[]);
    let other = s2.client().text(&["INFO", "server"]);
    assert_ne!(info_field(&other, "run_id").unwrap(), run_id);
}

#[test]
fn config_get_set() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    let port = c.cmd(&["CONFIG", "GET", "port"]);
    assert_eq!(
        port,
        Frame::Array(vec![
            Frame::bulk_str("port"),
            Frame::bulk_str(&s.port.to_string())
        ])
    );
    // The key is echoed as typed; aliases work.
    assert_eq!(
        items(c.cmd(&["CONFIG", "GET", "SLAVE-READ-ONLY"]))[0],
        Frame::bulk_str("SLAVE-READ-ONLY")
    );
    let many = items(c.cmd(&["CONFIG", "GET", "*"]));
    assert!(many.len() > 100, "CONFIG GET * lists many parameters");
    assert_eq!(
        c.text(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "5mb",
            "maxmemory-policy",
            "allkeys-lru"
        ]),
        "OK"
    );
    assert_eq!(
        items(c.cmd(&["CONFIG", "GET", "maxmemory"]))[1],
        Frame::bulk_str("5242880")
    );
    c.cmd(&["HELLO", "3"]);
    match c.cmd(&["CONFIG", "GET", "maxmemory*"]) {
        Frame::Map(pairs) => assert!(pairs.len() >= 2),
        other => panic!("RESP3 CONFIG GET is a map: {other:?}"),
    }
    assert_eq!(
        c.text(&["CONFIG", "REWRITE"]),
        "ERR The server is running without a config file"
    );
}

#[test]
fn config_rewrite_round_trip() {
    let dir = temp_dir();
    let port = free_port();
    let conf = dir.path().join("vigil.conf");
    std::fs::write(
        &conf,
        format!(
            "# my comment at top\nport {port}\nbind 127.0.0.1\n\n# persistence\nsave 900 1\nsave 300 10\nMaxmemory 100mb\n"
        ),
    )
    .unwrap();
    let start = || {
        let mut cmd = Command::new(vigil_bin());
        cmd.arg("server").arg(&conf).current_dir(dir.path());
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = cmd.spawn().expect("spawn vigil server");
        let p = Proc {
            child,
            port,
            name: "vigil-server".into(),
            dir: dir.path().to_path_buf(),
        };
        wait_for("vigil from config", Duration::from_secs(10), || {
            Client::try_connect(port).map(|_| ())
        });
        p
    };
    let mut p = start();
    let mut c = Client::connect(port);
    assert_eq!(
        items(c.cmd(&["CONFIG", "GET", "maxmemory"]))[1],
        Frame::bulk_str("104857600")
    );
    assert_eq!(
        c.text(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "200mb",
            "hz",
            "20",
            "save",
            "60 5"
        ]),
        "OK"
    );
    assert_eq!(c.text(&["CONFIG", "REWRITE"]), "OK");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# my comment at top\n"), "{text}");
    assert!(text.contains("\nmaxmemory 200mb\n"), "{text}");
    assert!(text.contains("\nsave 60 5\n"), "{text}");
    assert!(!text.contains("save 300 10"), "{text}");
    assert!(text.contains("# Generated by CONFIG REWRITE\n"), "{text}");
    assert!(text.contains("\nhz 20\n"), "{text}");
    assert!(text.contains("# persistence"), "comments kept: {text}");
    // No temp file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("vigil.conf."))
        .collect();
    assert!(leftovers.is_empty());
    // Restart from the rewritten file: the values survive.
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.is_closed(), "SHUTDOWN answers with EOF, not a reply");
    wait_for(
        "vigil exits after SHUTDOWN",
        Duration::from_secs(10),
        || p.try_exit(),
    );
    let _p2 = start();
    let mut c = Client::connect(port);
    assert_eq!(
        items(c.cmd(&["CONFIG", "GET", "maxmemory"]))[1],
        Frame::bulk_str("209715200")
    );
    assert_eq!(
        items(c.cmd(&["CONFIG", "GET", "hz"]))[1],
        Frame::bulk_str("20")
    );
    assert_eq!(
        items(c.cmd(&["CONFIG", "GET", "save"]))[1],
        Frame::bulk_str("60 5")
    );
}

#[test]
fn command_introspection() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    let count = c.cmd(&["COMMAND", "COUNT"]).as_int().unwrap();
    let all = items(c.cmd(&["COMMAND"]));
    assert_eq!(all.len() as i64, count);
    let get = items(c.cmd(&["COMMAND", "INFO", "get", "config|get", "nosuch"]));
    assert_eq!(get.len(), 3);
    let entry = items(get[0].clone());
    assert_eq!(entry.len(), 10);
    assert_eq!(entry[0], Frame::bulk_str("get"));
    assert_eq!(entry[1], Frame::Integer(2));
    assert_eq!(
        items(entry[2].clone()),
        vec![Frame::simple("readonly"), Frame::simple("fast")]
    );
    assert_eq!(
        &entry[3..6],
        &[Frame::Integer(1), Frame::Integer(1), Frame::Integer(1)]
    );
    assert_eq!(items(get[1].clone())[0], Frame::bulk_str("config|get"));
    assert_eq!(get[2], Frame::Null);
    let config = items(items(c.cmd(&["COMMAND", "INFO", "config"]))[0].clone());
    assert_eq!(
        items(config[9].clone()).len(),
        5,
        "config has 5 subcommands"
    );
    assert_eq!(
        items(c.cmd(&["COMMAND", "GETKEYS", "SET", "k", "v"])),
        vec![Frame::bulk_str("k")]
    );
    let list = items(c.cmd(&["COMMAND", "LIST"]));
    assert!(list.contains(&Frame::bulk_str("client|kill")));
    let filtered = items(c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"]));
    assert!(filtered.iter().all(|f| bulk(f).starts_with("config")));
    assert!(!filtered.is_empty());
    // DOCS: name → map with a string group, subcommands named container|sub.
    c.cmd(&["HELLO", "3"]);
    match c.cmd(&["COMMAND", "DOCS", "client"]) {
        Frame::Map(pairs) => {
            assert_eq!(pairs[0].0, Frame::bulk_str("client"));
            let Frame::Map(doc) = &pairs[0].1 else {
                panic!("doc map")
            };
            assert!(doc.iter().any(|(k, _)| bulk(k) == "group"));
            let subs = doc
                .iter()
                .find(|(k, _)| bulk(k) == "subcommands")
                .map(|(_, v)| v.clone())
                .unwrap();
            let Frame::Map(subs) = subs else {
                panic!("subcommands map")
            };
            assert!(subs.iter().all(|(k, _)| bulk(k).starts_with("client|")));
        }
        other => panic!("COMMAND DOCS is a map: {other:?}"),
    }
}

#[test]
fn debug_commands() {
    let dir = temp_dir();
    let off = vigil_server(dir.path(), &[]);
    assert!(off
        .client()
        .text(&["DEBUG", "DIGEST"])
        .starts_with("ERR DEBUG command not allowed."));

    let v = vigil_server(dir.path(), &["--enable-debug-command", "yes"]);
    let r = redis_server(dir.path(), &["--enable-debug-command", "yes"]);
    let mut vc = v.client();
    let mut rc = r.client();
    assert_eq!(vc.text(&["DEBUG", "DIGEST"]), "0".repeat(40));
    // The same dataset, inserted in a different order, on vigil and on redis.
    for cmd in [
        &["SET", "a", "1"][..],
        &["SET", "b", "hello"],
        &["SET", "t", "x", "EX", "1000"],
        &["SELECT", "1"],
        &["SET", "z", "last"],
        &["SET", "y", "first"],
        &["SELECT", "0"],
    ] {
        vc.cmd(cmd);
    }
    for cmd in [
        &["SELECT", "1"][..],
        &["SET", "y", "first"],
        &["SET", "z", "last"],
        &["SELECT", "0"],
        &["SET", "t", "x", "EX", "1000"],
        &["SET", "b", "hello"],
        &["SET", "a", "1"],
    ] {
        rc.cmd(cmd);
    }
    let dv = vc.text(&["DEBUG", "DIGEST"]);
    assert_eq!(dv, rc.text(&["DEBUG", "DIGEST"]));
    assert_eq!(
        vc.cmd(&["DEBUG", "DIGEST-VALUE", "a", "t", "missing"]),
        rc.cmd(&["DEBUG", "DIGEST-VALUE", "a", "t", "missing"])
    );
    vc.cmd(&["SET", "a", "2"]);
    assert_ne!(vc.text(&["DEBUG", "DIGEST"]), dv);

    assert_eq!(vc.text(&["DEBUG", "POPULATE", "100", "p", "8"]), "OK");
    rc.cmd(&["DEBUG", "POPULATE", "100", "p", "8"]);
    assert_eq!(vc.text(&["GET", "p:7"]), rc.text(&["GET", "p:7"]));
    assert_eq!(
        vc.text(&["DEBUG", "POPULATE", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(vc.text(&["DEBUG", "NOSUCH"]), rc.text(&["DEBUG", "NOSUCH"]));
    assert_eq!(vc.text(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "OK");
    assert!(vc
        .text(&["DEBUG", "OBJECT", "b"])
        .contains("encoding:embstr"));
    assert_eq!(vc.text(&["DEBUG", "OBJECT", "nokey"]), "ERR no such key");
    let t = std::time::Instant::now();
    assert_eq!(vc.text(&["DEBUG", "SLEEP", "0.2"]), "OK");
    assert!(t.elapsed() >= Duration::from_millis(200));
    let digest = vc.text(&["DEBUG", "DIGEST"]);
    assert_eq!(vc.text(&["DEBUG", "RELOAD"]), "OK");
    assert_eq!(vc.text(&["DEBUG", "DIGEST"]), digest);
    assert!(items(vc.cmd(&["DEBUG", "HELP"])).len() > 4);
}

#[test]
fn shutdown_variants() {
    let dir = temp_dir();
    let mut s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    assert_eq!(
        c.text(&["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    c.send(&["SHUTDOWN", "NOSAVE", "NOW"]);
    assert!(c.is_closed());
    let status = wait_for("exit", Duration::from_secs(10), || s.try_exit());
    assert!(status.success(), "{status}");
    let mut s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    assert_eq!(
        c.text(&["LASTSAVE"]).parse::<i64>().map(|t| t > 0),
        Ok(true)
    );
    // SIGTERM is a graceful shutdown too.
    s.signal(libc::SIGTERM);
    let status = wait_for("exit on SIGTERM", Duration::from_secs(10), || s.try_exit());
    assert!(status.success(), "{status}");
}

#[test]
fn monitor_streams_commands() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut m = s.client();
    assert_eq!(m.text(&["MONITOR"]), "OK");
    let mut c = s.client();
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "k", "a \"b\"\n"]);
    c.cmd(&["CONFIG", "GET", "port"]); // admin: not shown
    c.cmd(&["GET", "k"]);
    let lines: Vec<String> = (0..3).map(|_| bulk(&m.read())).collect();
    let addr = c
        .text(&["CLIENT", "INFO"])
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    let (ts, rest) = lines[1].split_once(' ').unwrap();
    let (secs, usecs) = ts.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok() && usecs.len() == 6, "{ts}");
    assert_eq!(rest, format!("[2 {addr}] \"SET\" \"k\" \"a \\\"b\\\"\\n\""));
    assert!(
        lines[0].ends_with(&format!("[2 {addr}] \"SELECT\" \"2\"")),
        "{}",
        lines[0]
    );
    assert!(
        lines[2].ends_with(&format!("[2 {addr}] \"GET\" \"k\"")),
        "{}",
        lines[2]
    );
    // The db shown is the one after the command (as Redis: SELECT 2 shows 2).
    // Inside EXEC, MONITOR is refused.
    let mut t = s.client();
    t.cmd(&["MULTI"]);
    t.cmd(&["MONITOR"]);
    let r = items(t.cmd(&["EXEC"]));
    assert_eq!(
        r[0],
        Frame::Error("ERR MONITOR isn't allowed for DENY BLOCKING client".into())
    );
}

#[test]
fn debug_reload_round_trips_the_dataset() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &["--enable-debug-command", "yes"]);
    let mut c = s.client();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "t", "x", "EX", "1000"]);
    c.cmd(&["RPUSH", "l", "x", "y", "z"]);
    c.cmd(&["HSET", "h", "f", "v", "g", "w"]);
    c.cmd(&["SADD", "s", "m1", "m2"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "other", "db"]);
    c.cmd(&["SELECT", "0"]);
    let before = c.text(&["DEBUG", "DIGEST"]);
    assert_eq!(c.text(&["DEBUG", "RELOAD"]), "OK");
    assert_eq!(c.text(&["DEBUG", "DIGEST"]), before);
    assert!(dir.path().join("dump.rdb").exists());
    let ttl = c.cmd(&["TTL", "t"]).as_int().unwrap();
    assert!(ttl > 900 && ttl <= 1000, "TTL survives: {ttl}");
    // NOSAVE reloads the file as it is: later changes are dropped.
    c.cmd(&["SET", "a", "changed"]);
    c.cmd(&["SET", "new", "key"]);
    assert_eq!(c.text(&["DEBUG", "RELOAD", "NOSAVE"]), "OK");
    assert_eq!(c.text(&["GET", "a"]), "1");
    assert_eq!(c.cmd(&["EXISTS", "new"]), Frame::Integer(0));
    assert_eq!(c.text(&["DEBUG", "DIGEST"]), before);
    // MERGE keeps keys that are not in the file.
    c.cmd(&["SET", "new", "key"]);
    assert_eq!(c.text(&["DEBUG", "RELOAD", "NOSAVE", "MERGE"]), "OK");
    assert_eq!(c.text(&["GET", "new"]), "key");
    assert_eq!(
        c.text(&["DEBUG", "RELOAD", "BOGUS"]),
        "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
    );
}

#[test]
fn shutdown_saves_or_refuses() {
    let dir = temp_dir();
    // A directory where the RDB file should be: every save fails.
    std::fs::create_dir(dir.path().join("dump.rdb")).unwrap();
    let mut s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(
        c.text(&["SHUTDOWN", "SAVE"]),
        "ERR Errors trying to SHUTDOWN. Check logs."
    );
    assert_eq!(
        c.text(&["PING"]),
        "PONG",
        "still running after a failed save"
    );
    c.send(&["SHUTDOWN", "SAVE", "FORCE"]);
    assert!(c.is_closed());
    wait_for("exit with FORCE", Duration::from_secs(10), || s.try_exit());

    // A writable place: SHUTDOWN SAVE writes the RDB, a restart loads it.
    let dir = temp_dir();
    let mut s = vigil_server(dir.path(), &[]);
    let mut c = s.client();
    c.cmd(&["SET", "k", "v"]);
    c.cmd(&["RPUSH", "l", "1", "2"]);
    c.send(&["SHUTDOWN", "SAVE"]);
    assert!(c.is_closed());
    wait_for("exit after SHUTDOWN SAVE", Duration::from_secs(10), || {
        s.try_exit()
    });
    assert!(dir.path().join("dump.rdb").is_file());
    let s2 = vigil_server(dir.path(), &[]);
    let mut c = s2.client();
    wait_for("dataset loaded", Duration::from_secs(10), || {
        (c.text(&["GET", "k"]) == "v").then_some(())
    });
    assert_eq!(c.cmd(&["LLEN", "l"]), Frame::Integer(2));
    let info = c.text(&["INFO", "persistence"]);
    assert_eq!(
        info_field(&info, "rdb_changes_since_last_save").as_deref(),
        Some("0")
    );
    c.cmd(&["SET", "k2", "v"]);
    let info = c.text(&["INFO", "persistence"]);
    assert_eq!(
        info_field(&info, "rdb_changes_since_last_save").as_deref(),
        Some("1")
    );
}

/// MONITOR shows AUTH's and HELLO AUTH's secrets as "(redacted)", like Redis.
#[test]
fn monitor_redacts_passwords_like_redis() {
    let dir = temp_dir();
    let mut seen = Vec::new();
    for kind in ["vigil", "redis"] {
        let sub = dir.path().join(kind);
        std::fs::create_dir_all(&sub).unwrap();
        let args = ["--requirepass", "s3cret"];
        let s = server_of(kind, &sub, &args);
        let mut m = s.client();
        assert_eq!(m.text(&["AUTH", "s3cret"]), "OK");
        assert_eq!(m.text(&["MONITOR"]), "OK");
        let mut c = s.client();
        assert_eq!(c.text(&["AUTH", "s3cret"]), "OK");
        c.cmd(&["HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "x"]);
        assert_eq!(c.text(&["SET", "k", "v"]), "OK");
        let lines: Vec<String> = (0..3)
            .map(|_| {
                let line = bulk(&m.read());
                line.split_once("] ").expect("monitor line").1.to_string()
            })
            .collect();
        assert!(
            !lines.iter().any(|l| l.contains("s3cret")),
            "{kind}: {lines:?}"
        );
        seen.push(lines);
    }
    assert_eq!(
        seen[0], seen[1],
        "vigil (left) and redis-server (right) differ"
    );
}

/// COMMAND INFO's flags and ACL categories (`@read`, not `+@read`) as redis-server
/// prints them, and COMMAND LIST FILTERBY ACLCAT finds by them.
#[test]
fn command_info_categories_like_redis() {
    same_on_both(&[], |port| {
        let mut c = Client::connect(port);
        let mut out = Vec::new();
        for name in ["get", "set", "lpush", "ping"] {
            match c.cmd(&["COMMAND", "INFO", name]) {
                Frame::Array(v) => match &v[0] {
                    Frame::Array(e) => {
                        out.push(format!("{name} flags {}", show(&e[2])));
                        out.push(format!("{name} categories {}", show(&e[6])));
                    }
                    f => out.push(format!("{name}: {f:?}")),
                },
                f => out.push(format!("{name}: {f:?}")),
            }
        }
        let listed = match c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"]) {
            Frame::Array(v) => v.iter().map(show).collect::<Vec<_>>(),
            f => vec![format!("{f:?}")],
        };
        for name in ["get", "set", "lpush"] {
            out.push(format!(
                "{name} in @string: {}",
                listed.iter().any(|l| l == name)
            ));
        }
        out
    });
}
