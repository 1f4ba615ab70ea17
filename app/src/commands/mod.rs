//! One module per subcommand.

pub mod degrade;
pub mod demo;
pub mod evaluate;
pub mod features;
pub mod predict;
pub mod synth;
pub mod train;

/// What a subcommand returns: errors are printed by `main` as `error: ...`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// Print a JSON value on stdout.
pub fn print_json(v: &serde_json::Value) -> CmdResult {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Write a small file through a temporary file and a rename, so it appears whole
/// or not at all.
pub fn write_file_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
