//! Snapshots in a forked child, like redis-server: the child gets a copy-on-write
//! image of the dataset, serializes it and exits, so the parent (and its clients)
//! pays only for `fork()` itself, not for a copy or the serialization.
//!
//! The child runs under the state lock the parent held at fork time, touches only the
//! dataset (reads), the allocator (glibc's malloc is fork-safe) and one file
//! descriptor, then leaves with `_exit` — no tokio, no logging, no destructors.

use crate::server::rdb::{self, DbRef, SaveOptions};
use crate::server::state::State;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::PathBuf;

/// Where the child writes the RDB.
pub enum Target {
    /// A pipe whose read end is returned to the caller.
    Pipe,
    /// A file written atomically (temp, fsync, rename, fsync dir).
    File(PathBuf),
}

/// A running snapshot child.
pub struct ForkChild {
    pub pid: i32,
    /// Read end of the pipe (Target::Pipe).
    pub pipe: Option<std::fs::File>,
}

/// Fork a child that writes an RDB of `st` to `target`.
pub fn fork_rdb(st: &State, opts: &SaveOptions, target: Target) -> Result<ForkChild, String> {
    let mut fds = [-1i32; 2];
    if matches!(target, Target::Pipe) {
        // SAFETY: pipe(2) fills two descriptors we own from now on.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
    }
    // SAFETY: fork(2). The child only reads memory that the parent's lock guard
    // protects, allocates, writes to its descriptor and calls _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        for fd in fds.into_iter().filter(|&fd| fd >= 0) {
            // SAFETY: closing descriptors we created above.
            unsafe { libc::close(fd) };
        }
        return Err(format!("fork: {e}"));
    }
    if pid == 0 {
        let code = child(st, opts, &target, fds);
        // SAFETY: leave the child without running destructors or atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let pipe = if fds[0] >= 0 {
        // SAFETY: the write end belongs to the child; the read end is ours to own.
        unsafe { libc::close(fds[1]) };
        Some(unsafe { std::fs::File::from_raw_fd(fds[0]) })
    } else {
        None
    };
    Ok(ForkChild { pid, pipe })
}

fn child(st: &State, opts: &SaveOptions, target: &Target, fds: [i32; 2]) -> i32 {
    let refs: Vec<DbRef> = st
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.map.is_empty())
        .map(|(i, d)| (i, &d.map, &d.expires))
        .collect();
    let bytes = rdb::encode_refs(&refs, opts);
    match target {
        Target::Pipe => {
            // SAFETY: closing our copy of the read end; the write end is ours.
            unsafe { libc::close(fds[0]) };
            let mut f = unsafe { std::fs::File::from_raw_fd(fds[1]) };
            if f.write_all(&bytes).is_err() {
                return 1;
            }
            0
        }
        Target::File(path) => match crate::util::fsutil::write_atomic(path, &bytes) {
            Ok(()) => 0,
            Err(_) => 1,
        },
    }
}

/// Wait for a child (blocking: call from a blocking thread). True on exit status 0.
pub fn wait(pid: i32) -> bool {
    let mut status = 0i32;
    loop {
        // SAFETY: waitpid(2) on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}
