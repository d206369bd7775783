//! Differential tests: the same command scripts (every data command family, errors
//! included) run against redis-server 7.0 and `vigil server`, in RESP2 and RESP3;
//! every reply must be byte-for-byte identical. Scripts live in
//! tests/data_support/scripts/.

mod data_support;
mod support;

use data_support::assert_same_as_redis;

#[test]
fn keyspace_commands_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/keys.txt"));
}

#[test]
fn list_commands_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/lists.txt"));
}

#[test]
fn hash_commands_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/hashes.txt"));
}

#[test]
fn set_commands_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/sets.txt"));
}

#[test]
fn sorted_set_commands_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/zsets.txt"));
}

#[test]
fn wrong_types_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/wrongtype.txt"));
}

#[test]
fn edge_values_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/edges.txt"));
}

#[test]
fn string_encodings_match_redis() {
    assert_same_as_redis(include_str!("data_support/scripts/encodings.txt"));
}
