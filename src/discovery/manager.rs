//! A failover-aware async connection manager on the `redis` crate. It keeps one
//! multiplexed connection to the current master, resolved through [`Discovery`]; when
//! a command fails with an I/O error, a timeout or `-READONLY` (the node was demoted),
//! or when a sentinel publishes `+switch-master` (a hint), it drops the connection,
//! resolves the master again and retries, with bounded exponential backoff and a
//! bounded total budget. Read connections to replicas are handed out on request.

use rand::Rng;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, FromRedisValue};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, Mutex};
use tokio::task::JoinHandle;

use super::error::{is_reconnect_error, is_wait_error};
use super::events::{switch_master_hints, SubscribeConfig};
use super::{Addr, Discovery, DiscoveryError};

/// Knobs of the connection manager.
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// TCP connect timeout to a data node.
    pub connect_timeout: Duration,
    /// How long one command may wait for its reply.
    pub response_timeout: Duration,
    /// Total time one call keeps retrying (rediscovering) before giving up.
    pub retry_budget: Duration,
    /// First pause between retries; doubled each time up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Subscribe to `+switch-master` on the sentinels to notice failovers early.
    pub switch_master_hints: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_secs(2),
            retry_budget: Duration::from_secs(30),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            switch_master_hints: true,
        }
    }
}

/// What the manager did, for applications (and `vigil demo`) that want to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagerEvent {
    /// A new master connection is up (`generation` counts connections made).
    Connected { addr: Addr, generation: u64 },
    /// The master connection was dropped because of `reason`.
    Dropped { addr: Addr, reason: String },
    /// A sentinel published `+switch-master` for our name (a hint).
    SwitchHint { sentinel: Addr, new: Addr },
}

struct Current {
    addr: Addr,
    conn: MultiplexedConnection,
    generation: u64,
}

struct State {
    current: Option<Current>,
    generation: u64,
}

struct Inner {
    discovery: Discovery,
    cfg: ManagerConfig,
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<ManagerEvent>,
    rr: AtomicUsize,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Failover-aware handle to a sentinel-monitored master. Cheap to clone; clones share
/// the connection. Must be created inside a tokio runtime.
#[derive(Clone)]
pub struct FailoverClient {
    inner: Arc<Inner>,
}

/// Exponential backoff with jitter, capped.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            next: min.max(Duration::from_millis(1)),
            max: max.max(min),
        }
    }

    fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::thread_rng().gen_range(0..=d.as_millis() as u64 / 4);
        d + Duration::from_millis(jitter)
    }
}

/// What [`FailoverClient::run`] executes.
#[derive(Clone, Copy)]
enum Job<'a> {
    Cmd(&'a redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

enum Failure {
    Discovery(DiscoveryError),
    Redis(Addr, u64, redis::RedisError),
}

impl FailoverClient {
    /// A manager over `discovery`. Nothing is connected until the first call.
    pub fn new(discovery: Discovery, cfg: ManagerConfig) -> FailoverClient {
        let state = Arc::new(Mutex::new(State {
            current: None,
            generation: 0,
        }));
        let (events, _) = broadcast::channel(256);
        let mut tasks = Vec::new();
        if cfg.switch_master_hints {
            let (mut rx, mut subs) = switch_master_hints(
                &discovery.sentinels(),
                discovery.name(),
                SubscribeConfig::default(),
            );
            tasks.append(&mut subs);
            let state = state.clone();
            let events = events.clone();
            tasks.push(tokio::spawn(async move {
                while let Some((sentinel, sw)) = rx.recv().await {
                    tracing::info!(%sentinel, new = %sw.new, "+switch-master hint; will resolve again");
                    let _ = events.send(ManagerEvent::SwitchHint {
                        sentinel,
                        new: sw.new.clone(),
                    });
                    let mut st = state.lock().await;
                    // A hint only: drop the connection unless it already points at
                    // the announced address; the next call resolves through the
                    // sentinels and checks ROLE.
                    if st.current.as_ref().is_some_and(|c| c.addr != sw.new) {
                        if let Some(c) = st.current.take() {
                            let _ = events.send(ManagerEvent::Dropped {
                                addr: c.addr,
                                reason: "+switch-master".into(),
                            });
                        }
                    }
                }
            }));
        }
        FailoverClient {
            inner: Arc::new(Inner {
                discovery,
                cfg,
                state,
                events,
                rr: AtomicUsize::new(0),
                tasks,
            }),
        }
    }

    pub fn discovery(&self) -> &Discovery {
        &self.inner.discovery
    }

    /// Subscribe to what the manager does (connections, drops, hints).
    pub fn events(&self) -> broadcast::Receiver<ManagerEvent> {
        self.inner.events.subscribe()
    }

    /// The address of the current master connection, if one is open.
    pub async fn current_master(&self) -> Option<Addr> {
        self.inner
            .state
            .lock()
            .await
            .current
            .as_ref()
            .map(|c| c.addr.clone())
    }

    async fn connect(&self, addr: &Addr) -> Result<MultiplexedConnection, redis::RedisError> {
        connect_node(addr, &self.inner.cfg).await
    }

    /// The current master connection: the open one, or a new one to the master the
    /// sentinels name now (resolved again, `ROLE`-checked; nothing is reused from
    /// before the last drop). One resolve at a time; concurrent callers wait for it.
    async fn master_conn(&self) -> Result<(Addr, MultiplexedConnection, u64), Failure> {
        let mut st = self.inner.state.lock().await;
        if let Some(c) = &st.current {
            return Ok((c.addr.clone(), c.conn.clone(), c.generation));
        }
        let info = self
            .inner
            .discovery
            .master()
            .await
            .map_err(Failure::Discovery)?;
        let conn = self
            .connect(&info.addr)
            .await
            .map_err(|e| Failure::Redis(info.addr.clone(), 0, e))?;
        st.generation += 1;
        let generation = st.generation;
        tracing::info!(addr = %info.addr, generation, "connected to master");
        let _ = self.inner.events.send(ManagerEvent::Connected {
            addr: info.addr.clone(),
            generation,
        });
        st.current = Some(Current {
            addr: info.addr.clone(),
            conn: conn.clone(),
            generation,
        });
        Ok((info.addr, conn, generation))
    }

    /// Drop the master connection of `generation` (not a newer one).
    async fn invalidate(&self, generation: u64, reason: &str) {
        let mut st = self.inner.state.lock().await;
        if st
            .current
            .as_ref()
            .is_some_and(|c| c.generation == generation)
        {
            if let Some(c) = st.current.take() {
                tracing::info!(addr = %c.addr, reason, "dropping master connection");
                let _ = self.inner.events.send(ManagerEvent::Dropped {
                    addr: c.addr,
                    reason: reason.to_string(),
                });
            }
        }
    }

    /// A connection to the current master (for commands the caller runs itself; use
    /// [`FailoverClient::query`] to get retries).
    pub async fn master(&self) -> Result<MultiplexedConnection, DiscoveryError> {
        match self.master_conn().await {
            Ok((_, c, _)) => Ok(c),
            Err(Failure::Discovery(e)) => Err(e),
            Err(Failure::Redis(addr, _, source)) => Err(DiscoveryError::Redis { addr, source }),
        }
    }

    /// Run `cmd` on the master. On I/O errors, timeouts, `-READONLY`, `-LOADING`,
    /// `-MASTERDOWN` and while no master can be resolved, it reconnects (resolving
    /// again) and retries with backoff, for at most `retry_budget`. Other error
    /// replies are returned at once.
    ///
    /// A command whose connection broke after it was sent may have been applied:
    /// retried commands should be idempotent (SET, not INCR) when that matters.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, DiscoveryError> {
        self.run(Job::Cmd(cmd)).await
    }

    /// Run a pipeline (or `redis::pipe().atomic()` transaction) on the master as one
    /// unit, on one connection, with the same retries as [`FailoverClient::query`]:
    /// a retry re-runs the whole pipeline on the (possibly new) master. Use it to keep
    /// a write and its `WAIT` on the same connection.
    pub async fn query_pipe<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, DiscoveryError> {
        self.run(Job::Pipe(pipe)).await
    }

    async fn run<T: FromRedisValue>(&self, job: Job<'_>) -> Result<T, DiscoveryError> {
        let started = Instant::now();
        let cfg = &self.inner.cfg;
        let mut backoff = Backoff::new(cfg.backoff_min, cfg.backoff_max);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let failure = match self.master_conn().await {
                Err(f) => f,
                Ok((addr, mut conn, generation)) => {
                    let r = match job {
                        Job::Cmd(cmd) => cmd.query_async::<T>(&mut conn).await,
                        Job::Pipe(pipe) => pipe.query_async::<T>(&mut conn).await,
                    };
                    match r {
                        Ok(v) => return Ok(v),
                        Err(e) => Failure::Redis(addr, generation, e),
                    }
                }
            };
            let last = match failure {
                Failure::Discovery(e) if e.is_transient() => e,
                Failure::Discovery(e) => return Err(e),
                Failure::Redis(addr, generation, e) => {
                    if is_reconnect_error(&e) {
                        self.invalidate(generation, &e.to_string()).await;
                    } else if !is_wait_error(&e) {
                        return Err(DiscoveryError::Redis { addr, source: e });
                    }
                    DiscoveryError::Redis { addr, source: e }
                }
            };
            let pause = backoff.step();
            if started.elapsed() + pause > cfg.retry_budget {
                return Err(DiscoveryError::GaveUp {
                    elapsed: started.elapsed(),
                    attempts,
                    last: Box::new(last),
                });
            }
            tracing::debug!(error = %last, ?pause, "retrying");
            tokio::time::sleep(pause).await;
        }
    }

    /// A new connection to a healthy replica (round-robin over those the sentinels
    /// list and `ROLE` confirms). Reads from it may lag the master.
    pub async fn replica(&self) -> Result<(Addr, MultiplexedConnection), DiscoveryError> {
        let replicas = self.inner.discovery.replicas().await?;
        if replicas.is_empty() {
            return Err(DiscoveryError::NoReplica {
                name: self.inner.discovery.name().to_string(),
            });
        }
        let start = self.inner.rr.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for i in 0..replicas.len() {
            let r = &replicas[(start + i) % replicas.len()];
            match self.connect(&r.addr).await {
                Ok(c) => return Ok((r.addr.clone(), c)),
                Err(source) => {
                    last = Some(DiscoveryError::Redis {
                        addr: r.addr.clone(),
                        source,
                    })
                }
            }
        }
        Err(last.unwrap_or(DiscoveryError::NoReplica {
            name: self.inner.discovery.name().to_string(),
        }))
    }
}

/// Open a multiplexed `redis` connection to `addr` with the manager's timeouts.
pub async fn connect_node(
    addr: &Addr,
    cfg: &ManagerConfig,
) -> Result<MultiplexedConnection, redis::RedisError> {
    let client = Client::open(ConnectionAddr::Tcp(addr.host.clone(), addr.port))?;
    let conf = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(cfg.connect_timeout))
        .set_response_timeout(Some(cfg.response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&conf)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(400));
        let steps: Vec<Duration> = (0..8).map(|_| b.step()).collect();
        assert!(steps[0] >= Duration::from_millis(50) && steps[0] <= Duration::from_millis(63));
        assert!(steps.iter().all(|d| *d <= Duration::from_millis(500)));
        assert!(steps[7] >= Duration::from_millis(400));
    }
}
