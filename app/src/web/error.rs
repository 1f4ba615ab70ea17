//! What a request that fails gets: a status and a message, as JSON for the API and
//! as a page for the browser.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use speaker_similarity::Error;

use super::html;

/// A failed request: the status to answer with and a message for a person.
#[derive(Debug, Clone)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        WebError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is too large: the limit is {} (start the server with a larger \
                 --max-upload-mb, or send a shorter or compressed recording)",
                html::bytes_text(limit)
            ),
        )
    }

    pub fn empty() -> Self {
        Self::bad_request(
            "the upload is empty (0 bytes): choose an audio file (WAV, FLAC, MP3 or OGG)",
        )
    }

    /// The library's typed errors, for an upload: what the person sent is wrong
    /// (4xx) unless the error can only come from the server's side.
    pub fn from_audio(e: Error) -> Self {
        use StatusCode as S;
        let (status, message) = match &e {
            Error::EmptyFile { .. } => return Self::empty(),
            Error::NotAudio { reason, .. } => (
                S::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "not an audio file this server can read (WAV, FLAC, MP3 or OGG/Vorbis; \
                     the content decides, not the name): {reason}"
                ),
            ),
            Error::Unsupported { reason, .. } => (
                S::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported audio encoding: {reason}"),
            ),
            Error::Decode { reason, .. } => {
                (S::UNPROCESSABLE_ENTITY, format!("damaged audio: {reason}"))
            }
            Error::NoSamples { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "the audio holds no samples".to_string(),
            ),
            Error::NonFinite { .. } | Error::TooShort { .. } | Error::InvalidParameter { .. } => {
                (S::UNPROCESSABLE_ENTITY, e.to_string())
            }
            Error::Resample(_) => (
                S::UNPROCESSABLE_ENTITY,
                format!("the audio could not be resampled: {e}"),
            ),
            _ => (S::INTERNAL_SERVER_ERROR, format!("internal error: {e}")),
        };
        Self::new(status, message)
    }
}

/// A [`WebError`] answered as `{"error": message}`.
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.0.status,
            Json(serde_json::json!({ "error": self.0.message })),
        )
            .into_response();
        busy_headers(&mut r, self.0.status);
        r
    }
}

/// A [`WebError`] answered as an HTML page.
pub struct PageError(pub WebError);

impl From<WebError> for PageError {
    fn from(e: WebError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut r = (self.0.status, html::error_page(&self.0)).into_response();
        busy_headers(&mut r, self.0.status);
        r
    }
}

fn busy_headers(r: &mut Response, status: StatusCode) {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
    }
}
