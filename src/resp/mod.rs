//! RESP2/RESP3: one frame type for both directions, a writer that encodes a frame in
//! the protocol a client speaks, an incremental request parser for the server side
//! (multibulk and inline, with Redis's limits) and a reply parser for the client side
//! (sentinel links, replication links, tests).

mod frame;
mod reply_parser;
mod request;

pub use frame::{format_double, Frame};
pub use reply_parser::{parse_frame, ParseError};
pub use request::{split_args, string2ll, Parsed, RequestError, RequestLimits, RequestParser};

/// Protocol spoken by a connection: 2 (default) or 3 (after `HELLO 3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

impl Proto {
    pub fn number(self) -> i64 {
        match self {
            Proto::Resp2 => 2,
            Proto::Resp3 => 3,
        }
    }
}
