//! Bigger collections: encodings switch at Redis's thresholds (compared with
//! redis-server), ordered replies on large values match, and the SCAN family walks
//! large keyspaces and collections completely, also while keys are deleted.

mod data_support;
mod support;

use data_support::{assert_same_as_redis, RawClient};
use std::collections::HashSet;
use support::{temp_dir, vigil_server, Client, Frame};

fn seq(prefix: &str, n: usize, with_values: bool) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(" {prefix}{i}"));
        if with_values {
            s.push_str(&format!(" {}", i * 7));
        }
    }
    s
}

#[test]
fn large_values_and_encodings_match_redis() {
    let long = "x".repeat(65);
    let mut script = String::from("FLUSHALL\n");
    // Hashes: listpack up to 512 entries (the compiled-in default) / 64-byte values.
    script += &format!("HSET lp{}\nOBJECT ENCODING lp\n", seq("f", 512, true));
    script += "HSET lp f512 v\nOBJECT ENCODING lp\nHLEN lp\nHGET lp f100\n~HGETALL lp\n~HKEYS lp\n";
    script += &format!("HSET lv f {long}\nOBJECT ENCODING lv\n");
    // Sets: intset up to 512 integers, then hashtable.
    let ints: String = (0..512).rev().map(|i| format!(" {i}")).collect();
    script += &format!("SADD si{ints}\nOBJECT ENCODING si\nSMEMBERS si\nSSCAN si 0\n");
    script +=
        "SADD si 512\nOBJECT ENCODING si\nSCARD si\n~SMEMBERS si\nSADD sw a\nOBJECT ENCODING sw\n";
    script += &format!(
        "SADD s2{}\n~SINTER si s2\n~SUNION s2 sw\nSINTERCARD 2 si s2\n",
        seq("", 300, false)
    );
    // Sorted sets: listpack up to 128 members / 64 bytes, then skiplist.
    let mut zadd = String::from("ZADD zb");
    for i in 0..200 {
        zadd += &format!(" {} m{i}", (i * 37) % 101);
    }
    script += &format!("{zadd}\nOBJECT ENCODING zb\nZRANGE zb 0 -1 WITHSCORES\n");
    script += "ZRANGEBYSCORE zb (10 50 WITHSCORES LIMIT 5 20\nZREVRANGE zb 10 30\nZRANK zb m150\nZREVRANK zb m150\nZCOUNT zb 20 (60\n";
    script += "ZRANGE zb +inf -inf BYSCORE REV LIMIT 0 7 WITHSCORES\nZPOPMIN zb 3\nZPOPMAX zb 3\nZREMRANGEBYSCORE zb 0 10\nZCARD zb\n";
    script += &format!(
        "ZADD zl 1 {long}\nOBJECT ENCODING zl\nZADD zs{}\nOBJECT ENCODING zs\n",
        seq("1 m", 128, false)
    );
    // Lists.
    script += &format!("RPUSH bl{}\nLRANGE bl 100 120\nLINDEX bl 777\nLPOS bl e500\nLREM bl 0 e3\nLLEN bl\nLTRIM bl 10 -10\nLRANGE bl -5 -1\n", seq("e", 1000, false));
    assert_same_as_redis(&script);
}

fn scan_all(c: &mut Client, cmd: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let mut args: Vec<&str> = cmd.to_vec();
        args.insert(if cmd[0] == "SCAN" { 1 } else { 2 }, &cursor);
        let args_owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = args_owned.iter().map(|s| s.as_str()).collect();
        let items = c.cmd(&refs).into_items().expect("scan reply");
        cursor = items[0].as_text().expect("cursor");
        for f in items[1].clone().into_items().expect("elements") {
            out.push(f.as_text().expect("text"));
        }
        rounds += 1;
        assert!(rounds < 10_000, "scan does not terminate");
        if cursor == "0" {
            return out;
        }
    }
}

#[test]
fn scan_family_walks_everything() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = Client::connect(s.port);
    let mut raw = RawClient::connect(s.port);
    for i in 0..1000 {
        raw.send(&["SET", &format!("key:{i}"), "v"]);
    }
    for _ in 0..1000 {
        raw.read();
    }
    let keys: HashSet<String> = scan_all(&mut c, &["SCAN", "COUNT", "100"])
        .into_iter()
        .collect();
    assert_eq!(keys.len(), 1000);

    let fields: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let mut hset = vec!["HSET".to_string(), "h".to_string()];
    let mut sadd = vec!["SADD".to_string(), "s".to_string()];
    let mut zadd = vec!["ZADD".to_string(), "z".to_string()];
    for (i, f) in fields.iter().enumerate() {
        hset.push(f.clone());
        hset.push(format!("v{i}"));
        sadd.push(f.clone());
        zadd.push(format!("{i}.5"));
        zadd.push(f.clone());
    }
    for cmd in [&hset, &sadd, &zadd] {
        let refs: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        assert_eq!(c.cmd(&refs), Frame::Integer(1000));
    }
    let h = scan_all(&mut c, &["HSCAN", "h", "COUNT", "50"]);
    let pairs: HashSet<(String, String)> =
        h.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    assert_eq!(pairs.len(), 1000);
    assert!(pairs.contains(&("f999".to_string(), "v999".to_string())));
    let sm: HashSet<String> = scan_all(&mut c, &["SSCAN", "s", "COUNT", "50"])
        .into_iter()
        .collect();
    assert_eq!(sm.len(), 1000);
    let z = scan_all(&mut c, &["ZSCAN", "z", "COUNT", "50"]);
    let zp: HashSet<(String, String)> = z.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    assert_eq!(zp.len(), 1000);
    assert!(zp.contains(&("f7".to_string(), "7.5".to_string())));
    // MATCH and TYPE filter.
    let only: Vec<String> = scan_all(&mut c, &["SCAN", "MATCH", "key:99?", "COUNT", "1000"]);
    assert_eq!(only.len(), 10);
    let hashes = scan_all(&mut c, &["SCAN", "TYPE", "hash", "COUNT", "1000"]);
    assert_eq!(hashes, vec!["h".to_string()]);

    // Deleting keys during a scan never hides keys present throughout.
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut deleted = 0;
    loop {
        let items = c
            .cmd(&["SCAN", &cursor, "COUNT", "37"])
            .into_items()
            .unwrap();
        cursor = items[0].as_text().unwrap();
        for f in items[1].clone().into_items().unwrap() {
            seen.insert(f.as_text().unwrap());
        }
        if deleted < 300 {
            for _ in 0..30 {
                c.cmd(&["DEL", &format!("key:{}", 999 - deleted)]);
                deleted += 1;
            }
        }
        if cursor == "0" {
            break;
        }
    }
    for i in 0..700 {
        assert!(seen.contains(&format!("key:{i}")), "key:{i} missed");
    }
}

#[test]
fn huge_negative_random_counts_are_refused_not_served() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = RawClient::connect(s.port);
    c.cmd(&["SADD", "s", "a"]);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["ZADD", "z", "1", "m"]);
    for cmd in [
        ["SRANDMEMBER", "s", "-9223372036854775807"],
        ["HRANDFIELD", "h", "-9223372036854775807"],
        ["ZRANDMEMBER", "z", "-9223372036854775807"],
    ] {
        assert_eq!(c.cmd_str(&cmd), "-ERR value is out of range\r\n", "{cmd:?}");
    }
    // Moderate negative counts repeat members.
    let r = c.cmd_str(&["SRANDMEMBER", "s", "-3"]);
    assert_eq!(r, "*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n");
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn reads_count_keyspace_hits_and_misses() {
    let dir = temp_dir();
    let s = vigil_server(dir.path(), &[]);
    let mut c = Client::connect(s.port);
    c.cmd(&["HSET", "h", "f", "v"]);
    c.cmd(&["RPUSH", "l", "a"]);
    let stat = |c: &mut Client, f: &str| -> i64 {
        let info = c.text(&["INFO", "stats"]);
        support::info_field(&info, f)
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    };
    let (h0, m0) = (
        stat(&mut c, "keyspace_hits"),
        stat(&mut c, "keyspace_misses"),
    );
    c.cmd(&["HGET", "h", "f"]);
    c.cmd(&["LRANGE", "l", "0", "-1"]);
    c.cmd(&["SMEMBERS", "nokey"]);
    c.cmd(&["ZSCORE", "nokey", "m"]);
    c.cmd(&["HGET", "nokey", "f"]);
    assert_eq!(stat(&mut c, "keyspace_hits") - h0, 2);
    assert_eq!(stat(&mut c, "keyspace_misses") - m0, 3);
}
