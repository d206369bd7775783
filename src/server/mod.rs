//! The bundled Redis-compatible server (`vigil server`).

/// Entry point of `vigil server [CONFIG] [--directive value ...]`.
pub fn main(_args: Vec<String>) -> Result<(), String> {
    Err("the server is not built yet".into())
}
