//! The Sentinel-style supervisor (`vigil sentinel sentinel.conf`).

/// Entry point of `vigil sentinel <sentinel.conf> [--directive value ...]`.
pub fn main(_args: Vec<String>) -> Result<(), String> {
    Err("the sentinel is not built yet".into())
}
