//! Reading an upload: the raw body or the file field of a multipart form, bounded
//! in size. The file's name is kept only as a title to show; the decoder gets at
//! most a known extension as a hint, and nothing is ever written to disk.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::StatusCode;

use super::error::WebError;
use super::multipart::FormError;
use super::state::{AppState, InFlight};

/// Room for the multipart framing around the file (boundaries, part headers and
/// small fields) beyond the upload limit.
const MULTIPART_SLACK: usize = 64 * 1024;

/// A client that sends nothing for this long is answered 408 and let go.
const IDLE: Duration = Duration::from_secs(60);

/// An upload read into memory.
#[derive(Debug)]
pub struct Upload {
    /// The file's bytes.
    pub bytes: Bytes,
    /// A name to show (the file name without any folder, or the URL).
    pub title: String,
    /// The file name's extension, when it is one of the formats read.
    ext: Option<&'static str>,
}

impl Upload {
    pub fn new(bytes: Bytes, name: Option<&str>) -> Self {
        let title = name.map(clean_title).filter(|t| !t.is_empty());
        let ext = title.as_deref().and_then(known_extension);
        Upload {
            bytes,
            title: title.unwrap_or_else(|| "upload".to_string()),
            ext,
        }
    }

    /// Refuse an empty upload, or one over the size limit.
    pub fn check(&self, config: &super::state::Config) -> Result<(), WebError> {
        if self.bytes.is_empty() {
            return Err(WebError::empty());
        }
        if self.bytes.len() > config.max_upload {
            return Err(WebError::too_large(config.max_upload));
        }
        Ok(())
    }

    /// The name given to the decoder: `upload` or `upload.<known extension>`. The
    /// bytes decide the format; the extension only helps symphonia's probe.
    pub fn decoder_hint(&self) -> String {
        match self.ext {
            Some(e) => format!("upload.{e}"),
            None => "upload".to_string(),
        }
    }
}

/// A name fit to show: the last path component, no control characters, at most
/// 120 characters.
pub fn clean_title(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    base.chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A URL fit to show as a title: no control characters, at most 200 characters.
pub fn clean_title_url(url: &str) -> String {
    url.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn known_extension(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    ["wav", "wave", "flac", "mp3", "ogg", "oga"]
        .into_iter()
        .find(|&e| e == ext)
}

/// Read a body of at most `limit` bytes. A larger body is read on (and dropped) up
/// to a few times the limit, so that the client, still sending, gets the 413
/// answer rather than a reset connection; a body announcing more than that is
/// refused at once.
pub async fn read_limited(
    mut body: Body,
    limit: usize,
    declared: Option<u64>,
) -> Result<Bytes, WebError> {
    let drain_cap = limit.saturating_mul(3).saturating_add(1 << 20);
    if declared.is_some_and(|n| n > drain_cap as u64) {
        return Err(WebError::too_large(limit));
    }
    let mut buf: Vec<u8> = Vec::with_capacity(declared.map_or(0, |n| (n as usize).min(limit)));
    let mut seen = 0usize;
    let mut over = false;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let Ok(frame) = tokio::time::timeout(IDLE, next).await else {
            return Err(WebError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the upload stalled: nothing arrived for {} s",
                    IDLE.as_secs()
                ),
            ));
        };
        let Some(frame) = frame else {
            break;
        };
        let frame =
            frame.map_err(|e| WebError::bad_request(format!("the upload was interrupted: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if over {
            if seen > drain_cap {
                break;
            }
            continue;
        }
        if buf.len() + data.len() > limit {
            over = true;
            buf = Vec::new();
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if over {
        return Err(WebError::too_large(limit));
    }
    Ok(Bytes::from(buf))
}

/// Admit an upload under the server's in-flight cap: its ticket and the request, or,
/// when the server is busy, the 503 answered after the body is drained
/// ([`refuse_unread`]).
pub async fn admit(st: &AppState, req: Request) -> Result<(InFlight<'_>, Request), WebError> {
    match st.admit() {
        Ok(ticket) => Ok((ticket, req)),
        Err(e) => Err(refuse_unread(req, st.config.max_upload, e).await),
    }
}

/// Answer `error` to a request whose upload is not wanted (the server is busy),
/// after reading its body and throwing it away as it comes (a client still sending
/// then gets the answer rather than a reset connection). Nothing is kept: memory
/// does not grow with the number of refused uploads.
pub async fn refuse_unread(req: Request, limit: usize, error: WebError) -> WebError {
    let mut body = req.into_body();
    let cap = limit.saturating_mul(3).saturating_add(1 << 20);
    let mut seen = 0usize;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout(IDLE, next).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    seen = seen.saturating_add(data.len());
                }
                if seen > cap {
                    break;
                }
            }
            _ => break,
        }
    }
    error
}

/// The upload in a request: the `audio` (or `file`, or first file) field of a
/// multipart form, else the raw body (its name from the `name` query parameter).
pub async fn read_upload(
    req: Request,
    limit: usize,
    name: Option<&str>,
) -> Result<Upload, WebError> {
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let multipart = content_type.starts_with("multipart/form-data");
    let bytes = read_limited(
        body,
        if multipart {
            limit + MULTIPART_SLACK
        } else {
            limit
        },
        declared,
    )
    .await?;
    if !multipart {
        if bytes.len() > limit {
            return Err(WebError::too_large(limit));
        }
        return Ok(Upload::new(bytes, name));
    }
    match super::multipart::file_field(parts, bytes, limit).await {
        Ok(f) => Ok(Upload::new(f.bytes, f.file_name.as_deref().or(name))),
        Err(FormError::Malformed(why)) => Err(WebError::bad_request(format!(
            "malformed multipart form: {why}"
        ))),
        Err(FormError::TooLarge) => Err(WebError::too_large(limit)),
        Err(FormError::NoFile) => Err(WebError::bad_request(
            "no file in the form: send the recording in a file field named `audio`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_folders_and_control_characters() {
        assert_eq!(clean_title("../../etc/passwd"), "passwd");
        assert_eq!(clean_title("C:\\x\\clip.wav"), "clip.wav");
        assert_eq!(clean_title("a\u{0}b\nc.wav"), "abc.wav");
        assert_eq!(clean_title(&"x".repeat(500)).len(), 120);
    }

    #[test]
    fn decoder_hint_is_fixed_text_plus_a_known_extension() {
        let u = |n: &str| Upload::new(Bytes::new(), Some(n)).decoder_hint();
        assert_eq!(u("My Song.MP3"), "upload.mp3");
        assert_eq!(u("x.exe"), "upload");
        assert_eq!(u("/tmp/evil.wav/../x"), "upload");
        assert_eq!(Upload::new(Bytes::new(), None).title, "upload");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let body = Body::from(vec![0u8; 2000]);
        let e = read_limited(body, 1000, None).await.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        let ok = read_limited(Body::from(vec![1u8; 1000]), 1000, None)
            .await
            .unwrap();
        assert_eq!(ok.len(), 1000);
        let e = read_limited(Body::empty(), 1000, Some(10 << 20))
            .await
            .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    }
}
