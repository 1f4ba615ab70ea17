//! Audio from a URL through `yt-dlp` (when it is installed): audio only, converted
//! to 16 kHz mono WAV, into a private temporary folder removed afterwards, with a
//! time limit and a size cap.
//!
//! The checks, in this order: the scheme (http or https); the host, resolved, every
//! address public (see [`super::netpolicy`]); only then is yt-dlp looked for. yt-dlp
//! then reaches the network only through [`super::egress`], a proxy that checks
//! every host it is asked for (redirects included) the same way before connecting,
//! and connects only to the addresses it checked.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::body::Bytes;
use axum::http::StatusCode;

use super::egress::{split_authority, Egress};
use super::error::WebError;
use super::state::Config;
use super::upload::Upload;

/// Where `program` is: itself when it names a path, else the first executable of
/// that name on `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// What to tell a person when yt-dlp is missing.
pub fn missing_message(program: &str) -> String {
    format!(
        "fetching audio from a URL needs yt-dlp, which is not installed on this server \
         (`{program}` was not found). Install it (for example `pip install yt-dlp`, with \
         ffmpeg), or download the audio yourself and upload the file."
    )
}

/// Check that `url` is one http(s) URL without spaces or control characters.
pub fn check_url(url: &str) -> Result<&str, WebError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(WebError::bad_request(
            "no URL given: paste an http(s) address",
        ));
    }
    if url.len() > 2048 {
        return Err(WebError::bad_request(
            "the URL is longer than 2048 characters",
        ));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => {}
        _ => {
            return Err(WebError::bad_request(
                "only http:// and https:// URLs are accepted",
            ))
        }
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebError::bad_request(
            "the URL holds spaces or control characters",
        ));
    }
    Ok(url)
}

/// The host and port of a URL that passed [`check_url`]. A URL with a user name
/// (`user@host`), a backslash or a non-ASCII host is refused: parsers disagree on
/// such URLs, and media links never need them.
pub fn url_host(url: &str) -> Result<(String, u16), WebError> {
    let (default_port, rest) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (443, rest),
        Some((_, rest)) => (80, rest),
        None => {
            return Err(WebError::bad_request(
                "only http:// and https:// URLs are accepted",
            ))
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    if auth.contains('@') || rest.contains('\\') {
        return Err(WebError::bad_request(
            "URLs with a user name (user@host) or a backslash are not accepted",
        ));
    }
    if !auth.is_ascii() {
        return Err(WebError::bad_request(
            "the URL's host is not ASCII: give its punycode form (xn--...)",
        ));
    }
    split_authority(auth, default_port)
        .ok_or_else(|| WebError::bad_request(format!("the URL's host {auth:?} is not a host name")))
}

/// Why the fetch was refused, when the proxy refused a host yt-dlp was sent to.
fn refused_error(refused: &[String]) -> WebError {
    WebError::bad_request(format!(
        "refused: the URL led to an address this server does not fetch from \
         (nothing was sent there): {}",
        refused.join("; ")
    ))
}

/// Fetch the audio of `url` with yt-dlp. 400 for a bad URL, 501 when yt-dlp is not
/// installed, 504 on the time limit, 413 over the size cap, 422 when yt-dlp fails.
pub async fn fetch(config: &Config, url: &str) -> Result<Upload, WebError> {
    let url = check_url(url)?;
    let (host, port) = url_host(url)?;
    config
        .policy
        .check(&host, port)
        .await
        .map_err(|why| WebError::bad_request(format!("refused: {why}")))?;
    let program = find_program(&config.yt_dlp).ok_or_else(|| {
        WebError::new(StatusCode::NOT_IMPLEMENTED, missing_message(&config.yt_dlp))
    })?;
    // A private folder (mode 0700, random name), removed when `dir` is dropped,
    // whatever happens below.
    let dir = tempfile::Builder::new()
        .prefix("speaker-similarity-fetch-")
        .tempdir()
        .map_err(|e| WebError::internal(format!("cannot make a temporary folder: {e}")))?;
    // A decoded WAV at 16 kHz mono is ~1.9 MB a minute: allow the longest recording
    // accepted, and never less than the upload limit.
    let cap = ((config.max_seconds * 16_000.0 * 2.0) as usize + 4096).max(config.max_upload);
    // yt-dlp's only way out; every connection through it is checked.
    let egress = Egress::start(config.policy.clone(), cap as u64 + (16 << 20))
        .await
        .map_err(|e| WebError::internal(format!("cannot start the fetch proxy: {e}")))?;
    let proxy = egress.url();
    let mut cmd = tokio::process::Command::new(&program);
    for var in ["no_proxy", "NO_PROXY"] {
        cmd.env_remove(var);
    }
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env(var, &proxy);
    }
    cmd.arg("--ignore-config")
        .args(["--proxy", &proxy])
        // yt-dlp's own downloader for every protocol (it honours --proxy); ffmpeg
        // only converts the downloaded file. Live streams would never end.
        .args(["--downloader", "native"])
        .args(["--match-filter", "!is_live"])
        .arg("--no-playlist")
        .arg("--no-progress")
        .arg("--quiet")
        .arg("--no-warnings")
        .arg("--restrict-filenames")
        .args(["--max-filesize", &cap.to_string()])
        .args(["-f", "bestaudio/best"])
        .arg("-x")
        .args(["--audio-format", "wav"])
        .args([
            "--postprocessor-args",
            "ExtractAudio+ffmpeg_o:-ar 16000 -ac 1",
        ])
        .arg("-o")
        .arg(dir.path().join("audio.%(ext)s"))
        .arg("--")
        .arg(url)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        WebError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{} ({e})", missing_message(&config.yt_dlp)),
        )
    })?;
    let out = match tokio::time::timeout(config.fetch_timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(WebError::internal(format!("yt-dlp could not be run: {e}"))),
        Err(_) => {
            return Err(WebError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "yt-dlp did not finish within {} s: try a shorter video or upload the audio",
                    config.fetch_timeout.as_secs()
                ),
            ))
        }
    };
    let refused = egress.refused();
    drop(egress);
    if !refused.is_empty() {
        return Err(refused_error(&refused));
    }
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said: String = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .chars()
            .take(400)
            .collect();
        return Err(WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("yt-dlp could not fetch audio from that URL: {said}"),
        ));
    }
    // The file yt-dlp wrote: the WAV when conversion worked, else whatever audio
    // file it left (decoded by content all the same).
    let mut files: Vec<(bool, u64, PathBuf)> = std::fs::read_dir(dir.path())
        .map_err(|e| WebError::internal(format!("cannot list the temporary folder: {e}")))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let p = e.path();
            let wav = p.extension().is_some_and(|x| x == "wav");
            meta.is_file().then_some((wav, meta.len(), p))
        })
        .collect();
    files.sort();
    let Some((_, size, path)) = files.pop() else {
        return Err(WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "yt-dlp finished but wrote no audio file (is ffmpeg installed?)",
        ));
    };
    if size as usize > cap {
        return Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the audio at that URL is too long or too large ({}; the limit is {} s)",
                super::html::bytes_text(size as usize),
                config.max_seconds
            ),
        ));
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| WebError::internal(format!("cannot read what yt-dlp wrote: {e}")))?;
    drop(dir);
    let mut upload = Upload::new(Bytes::from(bytes), None);
    upload.title = super::upload::clean_title_url(url);
    Ok(upload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_pass() {
        assert!(check_url("https://example.org/watch?v=1").is_ok());
        assert!(check_url("  HTTP://example.org/a  ").is_ok());
        for bad in [
            "",
            "file:///etc/passwd",
            "ftp://x/y",
            "-o/tmp/x",
            "--exec=rm",
            "https://",
            "https:///x",
            "https://a b",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                check_url(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn hosts_come_out_of_urls() {
        let h = |u: &str| url_host(u).map_err(|e| e.message);
        assert_eq!(
            h("https://Example.org/x").unwrap(),
            ("example.org".into(), 443)
        );
        assert_eq!(h("http://example.org").unwrap(), ("example.org".into(), 80));
        assert_eq!(h("http://a.test:8080?q").unwrap(), ("a.test".into(), 8080));
        assert_eq!(h("http://[::1]:81/").unwrap(), ("[::1]".into(), 81));
        assert_eq!(h("http://10.0.0.1#x").unwrap(), ("10.0.0.1".into(), 80));
        for bad in [
            "http://user@127.0.0.1/",
            "http://example.org@127.0.0.1/",
            "http://example.org\\@127.0.0.1/",
            "http://bücher.test/",
            "http://a.test:x/",
        ] {
            let r = h(bad);
            assert!(r.is_err(), "{bad}: {r:?}");
        }
    }

    #[test]
    fn programs_are_found_on_path_or_by_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("/bin/sh").is_some());
        assert!(find_program("surely-not-a-program-xyz").is_none());
        assert!(find_program("/nonexistent/yt-dlp").is_none());
        assert!(find_program("").is_none());
    }
}
