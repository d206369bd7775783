//! How the process runs under an init system, as redis-server and redis-sentinel do:
//! `daemonize yes` (fork into the background, stdio on /dev/null) and `supervised
//! systemd|upstart|auto|no` (tell the supervisor when the server is ready or stopping:
//! systemd through `$NOTIFY_SOCKET`, upstart by stopping ourselves with SIGSTOP).
//! Debian's units start both binaries with `--supervised systemd` and `Type=notify`, so
//! a drop-in that never notifies would be killed by systemd at start-up.

/// The supervision mode in effect once `supervised` and the environment are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervision {
    No,
    Systemd,
    Upstart,
}

impl Supervision {
    /// Resolve the `supervised` directive's value (`no`, `upstart`, `systemd`, `auto`)
    /// against the environment, as Redis does: an explicit mode whose environment
    /// variable is missing means no supervision.
    pub fn resolve(directive: &str) -> Supervision {
        let has = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
        match directive.trim().to_ascii_lowercase().as_str() {
            "systemd" if has("NOTIFY_SOCKET") => Supervision::Systemd,
            "upstart" if has("UPSTART_JOB") => Supervision::Upstart,
            "auto" if has("NOTIFY_SOCKET") => Supervision::Systemd,
            "auto" if has("UPSTART_JOB") => Supervision::Upstart,
            _ => Supervision::No,
        }
    }

    /// The value INFO shows as `process_supervised`.
    pub fn name(self) -> &'static str {
        match self {
            Supervision::No => "no",
            Supervision::Systemd => "systemd",
            Supervision::Upstart => "upstart",
        }
    }

    /// Tell the supervisor the process accepts connections.
    pub fn ready(self) {
        match self {
            Supervision::No => {}
            Supervision::Systemd => {
                notify_systemd("STATUS=Ready to accept connections\nREADY=1\n");
            }
            Supervision::Upstart => {
                std::env::remove_var("UPSTART_JOB");
                // SAFETY: raising a signal on ourselves has no memory-safety impact.
                unsafe {
                    libc::raise(libc::SIGSTOP);
                }
            }
        }
    }

    /// Tell the supervisor the process is shutting down.
    pub fn stopping(self) {
        if self == Supervision::Systemd {
            notify_systemd("STOPPING=1\n");
        }
    }
}

/// Send one sd_notify datagram to `$NOTIFY_SOCKET` (a path, or `@name` for the abstract
/// namespace). Failures are logged: supervision must never stop the server.
pub fn notify_systemd(message: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|sock| {
        if let Some(name) = target.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(message.as_bytes(), &addr)
        } else {
            sock.send_to(message.as_bytes(), &target)
        }
    });
    if let Err(e) = sent {
        tracing::warn!(socket = %target, "systemd notification failed: {e}");
    }
}

/// `daemonize yes`: fork; the parent exits 0 at once, the child starts a new session
/// and points stdin/stdout/stderr at /dev/null. Must run before any thread exists
/// (before the tokio runtime is built).
pub fn daemonize() -> Result<(), String> {
    // SAFETY: called while the process is single-threaded; the child only continues
    // with ordinary Rust code, the parent exits without touching shared state.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "can't daemonize: fork failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid > 0 {
        std::process::exit(0);
    }
    // SAFETY: plain system calls on our own process and file descriptors.
    unsafe {
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // Only this test sets NOTIFY_SOCKET in this process.
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert_eq!(Supervision::resolve("systemd"), Supervision::Systemd);
        assert_eq!(Supervision::resolve("auto"), Supervision::Systemd);
        assert_eq!(Supervision::resolve("no"), Supervision::No);
        Supervision::Systemd.ready();
        Supervision::Systemd.stopping();
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"STATUS=Ready to accept connections\nREADY=1\n".as_slice()
        );
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\n".as_slice());
        assert_eq!(Supervision::resolve("systemd"), Supervision::No);
    }
}
