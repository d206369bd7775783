//! Blocking list and sorted-set pops against `vigil server`: a client blocks, another
//! pushes and the first is served; timeouts answer a null array (`*-1` / `_`);
//! blocked clients never stall others.

mod data_support;
mod support;

use data_support::RawClient;
use std::time::{Duration, Instant};
use support::{temp_dir, vigil_server, Proc};

fn server() -> (tempfile::TempDir, Proc) {
    let dir = temp_dir();
    let p = vigil_server(dir.path(), &[]);
    (dir, p)
}

/// Give a just-sent blocking command time to reach the server and block.
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

#[test]
fn blpop_is_served_by_a_later_push() {
    let (_d, s) = server();
    let mut blocked = RawClient::connect(s.port);
    let mut pusher = RawClient::connect(s.port);
    blocked.send(&["BLPOP", "q1", "q2", "5"]);
    settle();
    // Other clients keep working while one is blocked.
    assert_eq!(pusher.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(pusher.cmd_str(&["RPUSH", "q2", "x", "y"]), ":2\r\n");
    assert_eq!(
        blocked.read(),
        b"*2\r\n$2\r\nq2\r\n$1\r\nx\r\n".to_vec(),
        "served from the key that got data"
    );
    assert_eq!(
        pusher.cmd_str(&["LRANGE", "q2", "0", "-1"]),
        "*1\r\n$1\r\ny\r\n"
    );
    // The blocked connection is usable again.
    assert_eq!(blocked.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn brpop_and_blmove_and_blmpop_are_served() {
    let (_d, s) = server();
    let mut c = RawClient::connect(s.port);
    let mut pusher = RawClient::connect(s.port);

    c.send(&["BRPOP", "r", "5"]);
    settle();
    pusher.cmd(&["LPUSH", "r", "a", "b"]);
    assert_eq!(c.read(), b"*2\r\n$1\r\nr\r\n$1\r\na\r\n".to_vec());

    c.send(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "5"]);
    settle();
    pusher.cmd(&["RPUSH", "src", "m"]);
    assert_eq!(c.read(), b"$1\r\nm\r\n".to_vec());
    assert_eq!(
        pusher.cmd_str(&["LRANGE", "dst", "0", "-1"]),
        "*1\r\n$1\r\nm\r\n"
    );
    assert_eq!(pusher.cmd_str(&["EXISTS", "src"]), ":0\r\n");

    c.send(&["BRPOPLPUSH", "src2", "dst", "5"]);
    settle();
    pusher.cmd(&["RPUSH", "src2", "n"]);
    assert_eq!(c.read(), b"$1\r\nn\r\n".to_vec());

    c.send(&["BLMPOP", "5", "2", "e1", "e2", "LEFT", "COUNT", "2"]);
    settle();
    pusher.cmd(&["RPUSH", "e2", "1", "2", "3"]);
    assert_eq!(
        c.read(),
        b"*2\r\n$2\r\ne2\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n".to_vec()
    );
}

#[test]
fn bzpopmin_is_served_with_a_double_score_in_resp3() {
    let (_d, s) = server();
    let mut c = RawClient::connect(s.port);
    let mut pusher = RawClient::connect(s.port);
    c.cmd(&["HELLO", "3"]);
    c.send(&["BZPOPMIN", "z1", "5"]);
    settle();
    pusher.cmd(&["ZADD", "z1", "1.5", "m", "3", "n"]);
    assert_eq!(c.read(), b"*3\r\n$2\r\nz1\r\n$1\r\nm\r\n,1.5\r\n".to_vec());
    c.send(&["BZPOPMAX", "z1", "5"]);
    assert_eq!(c.read(), b"*3\r\n$2\r\nz1\r\n$1\r\nn\r\n,3\r\n".to_vec());
    assert_eq!(pusher.cmd_str(&["EXISTS", "z1"]), ":0\r\n");
}

#[test]
fn timeouts_answer_a_null_array_in_both_protocols() {
    let (_d, s) = server();
    let mut c2 = RawClient::connect(s.port);
    let mut c3 = RawClient::connect(s.port);
    c3.cmd(&["HELLO", "3"]);
    for (c, null) in [(&mut c2, &b"*-1\r\n"[..]), (&mut c3, &b"_\r\n"[..])] {
        for cmd in [
            vec!["BLPOP", "none", "0.1"],
            vec!["BRPOP", "none", "0.1"],
            vec!["BLMOVE", "none", "x", "LEFT", "LEFT", "0.1"],
            vec!["BRPOPLPUSH", "none", "x", "0.1"],
            vec!["BLMPOP", "0.1", "1", "none", "LEFT"],
            vec!["BZPOPMIN", "none", "0.1"],
            vec!["BZMPOP", "0.1", "1", "none", "MIN"],
        ] {
            let t = Instant::now();
            assert_eq!(c.cmd(&cmd), null.to_vec(), "{cmd:?}");
            let waited = t.elapsed();
            assert!(
                waited >= Duration::from_millis(90),
                "{cmd:?} waited {waited:?}"
            );
            assert!(waited < Duration::from_secs(5), "{cmd:?} waited {waited:?}");
        }
    }
}

#[test]
fn blocking_argument_errors_and_wrong_types() {
    let (_d, s) = server();
    let mut c = RawClient::connect(s.port);
    assert_eq!(
        c.cmd_str(&["BLPOP", "k", "abc"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        c.cmd_str(&["BLPOP", "k", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    c.cmd(&["SET", "str", "v"]);
    assert_eq!(
        c.cmd_str(&["BLPOP", "str", "1"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        c.cmd_str(&["BZPOPMIN", "str", "1"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[test]
fn one_element_serves_one_of_two_blocked_clients() {
    let (_d, s) = server();
    let mut a = RawClient::connect(s.port);
    let mut b = RawClient::connect(s.port);
    let mut pusher = RawClient::connect(s.port);
    a.send(&["BLPOP", "q", "3"]);
    b.send(&["BLPOP", "q", "3"]);
    settle();
    pusher.cmd(&["RPUSH", "q", "only"]);
    settle();
    pusher.cmd(&["RPUSH", "q", "second"]);
    let ra = String::from_utf8(a.read()).unwrap();
    let rb = String::from_utf8(b.read()).unwrap();
    let mut got = vec![ra, rb];
    got.sort();
    assert_eq!(
        got,
        vec![
            "*2\r\n$1\r\nq\r\n$4\r\nonly\r\n".to_string(),
            "*2\r\n$1\r\nq\r\n$6\r\nsecond\r\n".to_string()
        ]
    );
}

#[test]
fn blocking_pop_inside_multi_does_not_block() {
    let (_d, s) = server();
    let mut c = RawClient::connect(s.port);
    c.cmd(&["MULTI"]);
    c.cmd(&["BLPOP", "none", "0"]);
    c.cmd(&["BLMOVE", "none", "x", "LEFT", "LEFT", "0"]);
    assert_eq!(c.cmd_str(&["EXEC"]), "*2\r\n*-1\r\n$-1\r\n");
}

#[test]
fn a_spurious_wake_up_keeps_the_original_deadline() {
    let (_d, s) = server();
    let mut blocked = RawClient::connect(s.port);
    let mut other = RawClient::connect(s.port);
    let t = Instant::now();
    blocked.send(&["BLPOP", "q", "2"]);
    std::thread::sleep(Duration::from_millis(1200));
    // Wakes the blocked client, but the element is gone before it runs again.
    other.cmd(&["MULTI"]);
    other.cmd(&["RPUSH", "q", "x"]);
    other.cmd(&["LPOP", "q"]);
    assert_eq!(other.cmd_str(&["EXEC"]), "*2\r\n:1\r\n$1\r\nx\r\n");
    assert_eq!(blocked.read(), b"*-1\r\n".to_vec());
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert!(
        waited < Duration::from_millis(3000),
        "deadline restarted: {waited:?}"
    );
}
