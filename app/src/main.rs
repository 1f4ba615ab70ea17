//! `speaker-similarity`: command line and web app.
fn main() {
    println!("speaker-similarity {}", env!("CARGO_PKG_VERSION"));
}
