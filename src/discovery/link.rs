//! A minimal async RESP link over a tokio `TcpStream`, on Vigil's own codec: used to
//! talk to sentinels (queries and pub/sub) and to run `ROLE` on data nodes. Every
//! connect and every read is bounded by a timeout.

use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Addr;
use crate::resp::{parse_frame, Frame};

/// Replies larger than this are refused (sentinel replies are a few KB).
const MAX_REPLY: usize = 64 * 1024 * 1024;

/// Why a link operation failed (the text goes into error messages).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    #[error("no reply within {0:?}")]
    ReadTimeout(Duration),
    #[error("connection closed by peer")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(String),
}

/// One RESP2 connection.
pub struct Link {
    stream: TcpStream,
    buf: BytesMut,
    io_timeout: Duration,
    pub addr: Addr,
}

impl Link {
    /// Connect within `connect_timeout`; later replies are awaited up to `io_timeout`.
    pub async fn connect(
        addr: &Addr,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Link, LinkError> {
        let fut = TcpStream::connect((addr.host.as_str(), addr.port));
        let stream = match tokio::time::timeout(connect_timeout, fut).await {
            Err(_) => return Err(LinkError::ConnectTimeout(connect_timeout)),
            Ok(Err(e)) => return Err(LinkError::Connect(e)),
            Ok(Ok(s)) => s,
        };
        stream.set_nodelay(true).ok();
        Ok(Link {
            stream,
            buf: BytesMut::with_capacity(4096),
            io_timeout,
            addr: addr.clone(),
        })
    }

    /// Send one command (bulk-string array).
    pub async fn send(&mut self, args: &[&str]) -> Result<(), LinkError> {
        let mut out = BytesMut::new();
        Frame::encode_command(args, &mut out);
        let io_timeout = self.io_timeout;
        match tokio::time::timeout(io_timeout, self.stream.write_all(&out)).await {
            Err(_) => Err(LinkError::ReadTimeout(io_timeout)),
            Ok(r) => Ok(r?),
        }
    }

    /// Read one reply within the link's timeout. Error replies come back as
    /// `Ok(Frame::Error)`: the caller decides what they mean.
    pub async fn read(&mut self) -> Result<Frame, LinkError> {
        let t = self.io_timeout;
        self.read_within(t).await
    }

    /// Read one reply within `timeout`.
    pub async fn read_within(&mut self, timeout: Duration) -> Result<Frame, LinkError> {
        match tokio::time::timeout(timeout, self.read_frame()).await {
            Err(_) => Err(LinkError::ReadTimeout(timeout)),
            Ok(r) => r,
        }
    }

    /// Read one reply, however long it takes (cancel-safe: a partial frame stays in
    /// the buffer, so this can be used inside `select!`).
    pub async fn read_frame(&mut self) -> Result<Frame, LinkError> {
        loop {
            match parse_frame(&self.buf) {
                Err(e) => return Err(LinkError::Protocol(e.to_string())),
                Ok(Some((frame, used))) => {
                    let _ = self.buf.split_to(used);
                    return Ok(frame);
                }
                Ok(None) => {}
            }
            if self.buf.len() > MAX_REPLY {
                return Err(LinkError::Protocol("reply too large".into()));
            }
            self.buf.reserve(4096);
            let n = self.stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(LinkError::Closed);
            }
        }
    }

    /// Send a command and read its reply.
    pub async fn call(&mut self, args: &[&str]) -> Result<Frame, LinkError> {
        self.send(args).await?;
        self.read().await
    }
}
