//! RDB persistence: snapshot capture (a cheap clone under the lock, serialized
//! outside it), SAVE, BGSAVE, `save` points, load at start (with the repl-id /
//! repl-offset aux fields, so a restarted server resyncs partially) and the save
//! on shutdown. Files are written atomically (temp file, fsync, rename, fsync dir).

use crate::server::rdb::{self, DbSnapshot, ReplInfo, SaveOptions};
use crate::server::state::{unix_ms, Shared, State};
use std::sync::Arc;
use std::time::Instant;

/// Persistence counters (INFO persistence, LASTSAVE).
pub struct PersistState {
    /// Unix seconds of the last successful save (or of the start).
    pub last_save: i64,
    pub last_save_ok: bool,
    pub bgsave_in_progress: bool,
    /// The forked child writing the running BGSAVE, if it was forked.
    pub bgsave_child: Option<i32>,
    pub bgsave_started: Option<Instant>,
    pub last_bgsave_secs: i64,
    /// `State::dirty()` at the last successful save.
    pub dirty_at_save: u64,
    /// Dirty count when the running BGSAVE started.
    pub dirty_at_bgsave: u64,
    pub last_save_attempt: i64,
    /// Background saves to disk started (INFO `rdb_saves`; a diskless replication
    /// snapshot is not one, like Redis).
    pub bgsaves: u64,
}

impl PersistState {
    /// A background save (to disk or for replicas) ended: not in progress any more,
    /// its duration recorded for INFO `rdb_last_bgsave_time_sec`.
    pub fn bgsave_finished(&mut self) {
        self.bgsave_in_progress = false;
        self.bgsave_child = None;
        self.last_bgsave_secs = self
            .bgsave_started
            .take()
            .map(|t| t.elapsed().as_secs() as i64)
            .unwrap_or(-1);
    }
}

impl Default for PersistState {
    fn default() -> Self {
        PersistState {
            last_save: unix_ms() / 1000,
            last_save_ok: true,
            bgsave_in_progress: false,
            bgsave_child: None,
            bgsave_started: None,
            last_bgsave_secs: -1,
            dirty_at_save: 0,
            dirty_at_bgsave: 0,
            last_save_attempt: 0,
            bgsaves: 0,
        }
    }
}

/// The options of a save taken now.
pub fn save_options(st: &State, repl: Option<ReplInfo>) -> SaveOptions {
    SaveOptions {
        repl,
        compress: st.config.get_bool("rdbcompression"),
        checksum: st.config.get_bool("rdbchecksum"),
        ctime: unix_ms() / 1000,
        used_mem: crate::util::proc_stats::rss_bytes() as i64,
    }
}

/// Clone the dataset (values are refcounted bytes or boxed collections; O(keys)) plus
/// the save options, under the caller's lock. Used when fork() is not available.
pub fn capture(st: &State, repl: Option<ReplInfo>) -> (Vec<DbSnapshot>, SaveOptions) {
    let dbs = st
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.map.is_empty())
        .map(|(i, d)| DbSnapshot {
            index: i,
            map: d.map.clone(),
            expires: d.expires.clone(),
        })
        .collect();
    (dbs, save_options(st, repl))
}

fn rdb_path(st: &State) -> std::path::PathBuf {
    // The process runs in `dir`, like redis-server.
    st.config.db_path()
}

/// SAVE: serialize and write now (blocks the caller, like Redis).
pub fn save_now(st: &mut State) -> Result<(), String> {
    if st.repl.persist.bgsave_in_progress {
        return Err("Background save already in progress".into());
    }
    let repl = super::master::repl_info_now(st);
    let (dbs, opts) = capture(st, repl);
    let bytes = rdb::encode(&dbs, &opts);
    let path = rdb_path(st);
    let dirty = st.dirty();
    st.repl.persist.last_save_attempt = unix_ms() / 1000;
    match crate::util::fsutil::write_atomic(&path, &bytes) {
        Ok(()) => {
            st.repl.persist.last_save = unix_ms() / 1000;
            st.lastsave = st.repl.persist.last_save;
            st.repl.persist.last_save_ok = true;
            st.repl.persist.dirty_at_save = dirty;
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            st.repl.persist.last_save_ok = false;
            tracing::warn!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
                path.display(),
                st.config.get("dir")
            );
            Err(format!("{e}"))
        }
    }
}

/// BGSAVE: capture under the lock, serialize and write in a blocking thread.
pub fn bgsave(st: &mut State) -> Result<(), String> {
    if st.repl.persist.bgsave_in_progress {
        return Err("Background save already in progress".into());
    }
    let Some(shared) = st.repl.shared() else {
        return Err("persistence is not running".into());
    };
    let repl = super::master::repl_info_now(st);
    let started = Instant::now();
    let path = rdb_path(st);
    let opts = save_options(st, repl.clone());
    // A forked child serializes a copy-on-write image; a clone is the fallback.
    let mut forked = None;
    let job: Box<dyn FnOnce() -> bool + Send> =
        match super::fork::fork_rdb(st, &opts, super::fork::Target::File(path.clone())) {
            Ok(child) => {
                forked = Some(child.pid);
                Box::new(move || super::fork::wait(child.pid))
            }
            Err(e) => {
                tracing::warn!("Can't fork for BGSAVE ({e}); saving from a copy");
                let (dbs, opts) = capture(st, repl);
                Box::new(move || {
                    let bytes = rdb::encode(&dbs, &opts);
                    crate::util::fsutil::write_atomic(&path, &bytes).is_ok()
                })
            }
        };
    let took = started.elapsed();
    st.repl.persist.bgsaves += 1;
    st.repl.persist.bgsave_in_progress = true;
    st.repl.persist.bgsave_child = forked;
    st.repl.persist.bgsave_started = Some(Instant::now());
    st.repl.persist.dirty_at_bgsave = st.dirty();
    st.repl.persist.last_save_attempt = unix_ms() / 1000;
    tracing::info!(
        "Background saving started (the snapshot took {} ms)",
        took.as_millis()
    );
    tokio::spawn(async move {
        let r = tokio::task::spawn_blocking(job).await;
        let mut st = shared.state.lock();
        let p = &mut st.repl.persist;
        p.bgsave_finished();
        match r {
            Ok(true) => {
                p.last_save = unix_ms() / 1000;
                p.last_save_ok = true;
                p.dirty_at_save = p.dirty_at_bgsave;
                st.lastsave = st.repl.persist.last_save;
                tracing::info!("Background saving terminated with success");
            }
            Ok(false) => {
                p.last_save_ok = false;
                tracing::warn!("Background saving error");
            }
            Err(e) => {
                p.last_save_ok = false;
                tracing::warn!("Background saving error: {e}");
            }
        }
    });
    Ok(())
}

/// Save points: BGSAVE when `changes` writes happened within `seconds`.
pub fn cron(shared: &Arc<Shared>) {
    let mut st = shared.state.lock();
    if st.repl.persist.bgsave_in_progress || st.loading {
        return;
    }
    let points = st.config.save_points();
    if points.is_empty() {
        return;
    }
    let now = unix_ms() / 1000;
    let changes = st.dirty().saturating_sub(st.repl.persist.dirty_at_save);
    let since = now - st.repl.persist.last_save;
    // After a failed save, retry no sooner than 5 seconds later (like Redis).
    if !st.repl.persist.last_save_ok && now - st.repl.persist.last_save_attempt < 5 {
        return;
    }
    for (secs, min_changes) in points {
        if changes >= min_changes && changes > 0 && since >= secs as i64 {
            tracing::info!("{min_changes} changes in {secs} seconds. Saving...");
            if let Err(e) = bgsave(&mut st) {
                tracing::warn!("can't BGSAVE: {e}");
            }
            return;
        }
    }
}

/// Load `dir/dbfilename` at start, if present (§4.6 for the repl fields).
pub fn load_at_start(shared: &Arc<Shared>) {
    let (path, max_dbs) = {
        let st = shared.state.lock();
        (rdb_path(&st), st.dbs.len())
    };
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!("can't read {}: {e}", path.display());
            return;
        }
    };
    let started = Instant::now();
    let loaded = match rdb::decode(&data, max_dbs) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("Short read or OOM loading DB. Unrecoverable error, aborting now: {e} (starting with an empty dataset)");
            return;
        }
    };
    if let Some(note) = loaded.skipped_streams_note() {
        tracing::warn!("Loading {}: {note}", path.display());
    }
    let mut st = shared.state.lock();
    let info = loaded.repl_info();
    let keys = loaded.keys;
    let now = unix_ms();
    let is_master = !st.is_replica();
    install(&mut st, loaded, is_master.then_some(now));
    st.repl.persist.dirty_at_save = st.dirty();
    tracing::info!(
        "DB loaded from disk: {:.3} seconds ({keys} keys)",
        started.elapsed().as_secs_f64()
    );
    if let Some(info) = info {
        if st.is_replica() {
            st.repl.replid = info.replid.clone();
            st.repl.master_repl_offset = info.offset;
            st.repl.cached = Some((info.replid, info.offset));
            st.repl.link_db = info.stream_db;
            tracing::info!("Restored replication ID and offset from the RDB file");
        } else {
            let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
            st.repl.replid2 = info.replid;
            st.repl.second_repl_offset = info.offset + 1;
            st.repl.master_repl_offset = info.offset;
            st.repl.backlog = None;
            st.repl.ensure_backlog(size);
        }
    }
}

/// Replace the whole dataset with a loaded one. `drop_expired_at`: a master drops
/// keys already expired at that time; a replica keeps them (the master deletes them).
pub fn install(st: &mut State, loaded: rdb::Loaded, drop_expired_at: Option<i64>) {
    // The old data is freed in a background thread, not under the lock.
    let mut old = Vec::new();
    for db in st.dbs.iter_mut() {
        old.push((std::mem::take(&mut db.map), std::mem::take(&mut db.expires)));
        db.flush();
    }
    if old.iter().any(|(m, _)| !m.is_empty()) {
        std::thread::spawn(move || drop(old));
    }
    for (i, mut map, mut expires) in loaded.dbs {
        if let Some(now) = drop_expired_at {
            let dead: Vec<bytes::Bytes> = expires
                .iter()
                .filter(|(_, &t)| t <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in dead {
                map.swap_remove(&k);
                expires.swap_remove(&k);
            }
        }
        if let Some(db) = st.dbs.get_mut(i) {
            db.map = map;
            db.expires = expires;
        }
    }
}

/// Save the dataset on shutdown (when save points are set or SHUTDOWN SAVE).
pub fn save_on_shutdown(shared: &Arc<Shared>) -> Result<(), String> {
    let mut st = shared.state.lock();
    tracing::info!("Saving the final RDB snapshot before exiting.");
    save_stopping_bgsave(&mut st)
}

/// The final save of a shutdown: a running BGSAVE is stopped first, as Redis
/// kills its RDB child (its older snapshot must not land after this one), then the
/// dataset is saved in the foreground. (A BGSAVE that could not fork writes from a
/// copy in a thread, which cannot be stopped; it only runs when fork failed.)
pub fn save_stopping_bgsave(st: &mut State) -> Result<(), String> {
    if st.repl.persist.bgsave_in_progress {
        if let Some(pid) = st.repl.persist.bgsave_child.take() {
            tracing::warn!("There is a child saving an .rdb. Killing it!");
            // SAFETY: kill(2) on our own child, which has not been reaped yet (the
            // waiting thread reaps it, so the pid cannot have been reused).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let path = rdb_path(st);
            if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
                let tmp = dir.join(format!(".{}.tmp-{pid}", name.to_string_lossy()));
                let _ = std::fs::remove_file(tmp);
            }
        }
        st.repl.persist.bgsave_in_progress = false;
    }
    save_now(st)
}
