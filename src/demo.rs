//! `vigil demo`: a whole topology on loopback, failed over live.

/// Arguments of `vigil demo`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DemoArgs {}

pub fn main(_args: DemoArgs) -> Result<(), String> {
    Err("the demo is not built yet (see README)".into())
}
