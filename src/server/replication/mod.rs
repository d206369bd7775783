//! Replication: the master side (replication stream, backlog, replicas) and the
//! replica side (link to our master). See replication.md.

use super::config::Config;
use bytes::{Bytes, BytesMut};

/// Where our master is, when we are a replica.
#[derive(Clone, Debug, PartialEq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// Replication state shared by both roles.
pub struct Replication {
    /// Our master when we are a replica.
    pub master: Option<MasterAddr>,
    /// Replication id (40 hex) and the previous one (PSYNC2).
    pub replid: String,
    pub replid2: String,
    pub master_repl_offset: i64,
    pub second_repl_offset: i64,
    /// Database the stream last SELECTed (-1: none yet).
    pub stream_db: i64,
    /// Bytes appended to the stream since the last drain by the replication task.
    pub pending: BytesMut,
    /// Commands of the current top-level execution, emitted by `flush_batch`.
    batch: Vec<(usize, Vec<Bytes>)>,
}

impl Replication {
    pub fn new(config: &Config) -> Replication {
        Replication {
            master: config
                .replicaof()
                .map(|(host, port)| MasterAddr { host, port }),
            replid: crate::util::ids::random_hex40(),
            replid2: "0".repeat(40),
            master_repl_offset: 0,
            second_repl_offset: -1,
            stream_db: -1,
            pending: BytesMut::new(),
            batch: Vec::new(),
        }
    }

    /// Queue one executed write for the replication stream. This is the only place
    /// writes enter the stream; the queue is emitted by `flush_batch` at the end of
    /// the top-level command.
    pub fn feed(&mut self, db: usize, argv: &[Bytes]) {
        self.batch.push((db, argv.to_vec()));
    }

    /// Emit the queued writes of one top-level execution: a single command bare, two
    /// or more wrapped in MULTI/EXEC (replication.md §6).
    pub fn flush_batch(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        match batch.len() {
            0 => {}
            1 => self.emit(batch[0].0, &batch[0].1),
            _ => {
                let first = batch[0].0;
                self.emit(first, &[Bytes::from_static(b"MULTI")]);
                let mut last = first;
                for (db, argv) in &batch {
                    self.emit(*db, argv);
                    last = *db;
                }
                self.emit(last, &[Bytes::from_static(b"EXEC")]);
            }
        }
    }

    /// Emit one command right away, unwrapped (active expiry, eviction).
    pub fn feed_unwrapped(&mut self, db: usize, argv: &[Bytes]) {
        self.flush_batch();
        self.emit(db, argv);
    }

    fn emit(&mut self, db: usize, argv: &[Bytes]) {
        if self.stream_db != db as i64 {
            let sel = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
            self.append(&sel);
            self.stream_db = db as i64;
        }
        self.append(argv);
    }

    fn append(&mut self, argv: &[Bytes]) {
        let before = self.pending.len();
        crate::resp::Frame::encode_command(argv, &mut self.pending);
        self.master_repl_offset += (self.pending.len() - before) as i64;
    }

    /// Replicas whose last ACK is recent enough for min-replicas-max-lag.
    pub fn good_replicas(&self, _max_lag_secs: i64) -> i64 {
        0
    }

    /// Whether the link to our master is up (always true on a master).
    pub fn link_up(&self) -> bool {
        self.master.is_none()
    }
}

/// Start the replication background tasks (the replica link when `replicaof` is set).
pub fn start(shared: &std::sync::Arc<super::state::Shared>) {
    let st = shared.state.lock();
    if let Some(m) = &st.repl.master {
        tracing::warn!(host = %m.host, port = m.port, "replicaof is set but the replica side is not built yet");
    }
}

/// Save the dataset on shutdown (when save points are set or SHUTDOWN SAVE).
pub fn save_on_shutdown(_shared: &std::sync::Arc<super::state::Shared>) -> Result<(), String> {
    Err("RDB persistence is not built yet".into())
}

/// The `# Replication` section of INFO (field names and order as Redis 7.0).
pub fn info_section(state: &super::state::State) -> String {
    let r = &state.repl;
    let mut s = String::from("# Replication\r\n");
    match &r.master {
        Some(m) => {
            s.push_str("role:slave\r\n");
            s.push_str(&format!(
                "master_host:{}\r\nmaster_port:{}\r\n",
                m.host, m.port
            ));
            s.push_str("master_link_status:down\r\n");
        }
        None => s.push_str("role:master\r\nconnected_slaves:0\r\n"),
    }
    s.push_str("master_failover_state:no-failover\r\n");
    s.push_str(&format!(
        "master_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\n",
        r.replid, r.replid2, r.master_repl_offset, r.second_repl_offset
    ));
    s.push_str("repl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n");
    s
}
