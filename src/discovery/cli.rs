//! `vigil discover`.

/// Arguments of `vigil discover`.
#[derive(clap::Args, Debug, Clone)]
pub struct DiscoverArgs {
    /// Sentinels to ask, HOST:PORT[,HOST:PORT...].
    #[arg(long, value_delimiter = ',', required = true)]
    pub sentinel: Vec<String>,
    /// Name of the monitored master.
    #[arg(long)]
    pub name: String,
}

pub fn main(_args: DiscoverArgs) -> Result<(), String> {
    Err("discovery is not built yet".into())
}
