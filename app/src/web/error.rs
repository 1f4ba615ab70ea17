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
    /// (4xx) unless the error can only come from the server's side (5xx). Every
    /// variant is matched by name, so a new one must be given its status here.
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
                format!(
                    "unsupported audio encoding: {reason} (convert the recording to 16-bit \
                     WAV, FLAC, MP3 or OGG/Vorbis)"
                ),
            ),
            Error::Decode { reason, .. } => (
                S::UNPROCESSABLE_ENTITY,
                format!("damaged audio: {reason} (the file may be cut short or corrupted)"),
            ),
            Error::NoSamples { .. } => (
                S::UNPROCESSABLE_ENTITY,
                "the audio holds no samples: the file has a header but no sound".to_string(),
            ),
            Error::NonFinite { index, value, .. } => (
                S::UNPROCESSABLE_ENTITY,
                format!("damaged audio: sample {index} is not a number ({value})"),
            ),
            Error::NoSpeech {
                peak_dbfs,
                threshold_dbfs,
            } => (
                S::UNPROCESSABLE_ENTITY,
                format!(
                    "no speech to analyse: the recording is silent (its loudest sample is at \
                     {peak_dbfs:.1} dBFS, below {threshold_dbfs:.0} dBFS); check that the \
                     microphone is on and record again"
                ),
            ),
            Error::NoSpeechFound { reason, .. } => (
                S::UNPROCESSABLE_ENTITY,
                format!("no speech to analyse: {reason}; send a recording with someone speaking"),
            ),
            Error::TooShort { .. } => (
                S::UNPROCESSABLE_ENTITY,
                format!(
                    "the recording is too short to analyse ({e}); send a longer \
                     recording, a few seconds of speech"
                ),
            ),
            Error::InvalidParameter { .. } => (S::UNPROCESSABLE_ENTITY, e.to_string()),
            Error::RetrainNeeded { .. } => (S::UNPROCESSABLE_ENTITY, e.to_string()),
            Error::Resample { from, .. } => (
                S::UNPROCESSABLE_ENTITY,
                format!("the audio could not be resampled from its rate of {from} Hz: {e}"),
            ),
            // The server's own files: their paths are not for the client's eyes, so
            // the details go to the server's log.
            Error::Io { .. } | Error::Dataset { .. } | Error::Model { .. } => {
                eprintln!("speaker-similarity serve: {e}");
                (
                    S::INTERNAL_SERVER_ERROR,
                    "internal error: the server could not analyse the recording (a fault on \
                     the server, not in your file: one of its files could not be used; its \
                     log says which)"
                        .to_string(),
                )
            }
            Error::Shape { .. }
            | Error::Training { .. }
            | Error::Serialize { .. }
            | Error::Plot { .. } => (
                S::INTERNAL_SERVER_ERROR,
                format!(
                    "internal error: the server could not analyse the recording (a fault on \
                     the server, not in your file): {e}"
                ),
            ),
        };
        debug_assert_eq!(status.is_client_error(), e.is_caller_fault());
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

#[cfg(test)]
mod tests {
    use super::*;
    use speaker_similarity::ErrorKind;
    use std::path::PathBuf;

    const VARIANTS: usize = 19;

    /// The variant's position; the match has no catch-all, so a new variant does not
    /// compile until it is added here and to [`every_variant`].
    fn index(e: &Error) -> usize {
        match e {
            Error::Io { .. } => 0,
            Error::EmptyFile { .. } => 1,
            Error::NotAudio { .. } => 2,
            Error::Decode { .. } => 3,
            Error::Unsupported { .. } => 4,
            Error::NoSamples { .. } => 5,
            Error::NonFinite { .. } => 6,
            Error::InvalidParameter { .. } => 7,
            Error::TooShort { .. } => 8,
            Error::NoSpeech { .. } => 9,
            Error::Shape { .. } => 10,
            Error::Dataset { .. } => 11,
            Error::Model { .. } => 12,
            Error::Training { .. } => 13,
            Error::Serialize { .. } => 14,
            Error::Resample { .. } => 15,
            Error::Plot { .. } => 16,
            Error::RetrainNeeded { .. } => 17,
            Error::NoSpeechFound { .. } => 18,
        }
    }

    /// One error of every variant, with the status and kind it must get.
    fn every_variant() -> Vec<(Error, u16, ErrorKind, &'static str)> {
        use ErrorKind::*;
        let upload = || PathBuf::from("<upload>");
        let json_error = serde_json::from_str::<u8>("not json").unwrap_err();
        vec![
            (
                Error::io(
                    "/srv/models/models.json",
                    std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
                ),
                500,
                Setup,
                "fault on the server",
            ),
            (Error::EmptyFile { path: upload() }, 400, Input, "empty"),
            (
                Error::NotAudio {
                    path: upload(),
                    reason: "no decoder recognised the bytes".into(),
                },
                415,
                Unsupported,
                "not an audio file",
            ),
            (
                Error::Decode {
                    path: upload(),
                    reason: "truncated WAV header".into(),
                },
                422,
                Input,
                "damaged audio: truncated WAV header",
            ),
            (
                Error::Unsupported {
                    path: upload(),
                    reason: "64-bit float WAV".into(),
                },
                415,
                Unsupported,
                "unsupported audio encoding: 64-bit float WAV",
            ),
            (
                Error::NoSamples { path: upload() },
                422,
                Input,
                "no samples",
            ),
            (
                Error::NonFinite {
                    what: "<upload>".into(),
                    index: 7,
                    value: f32::NAN,
                },
                422,
                Input,
                "sample 7 is not a number",
            ),
            (
                Error::param("segment_seconds", "must be positive"),
                422,
                Input,
                "segment_seconds",
            ),
            (
                Error::too_short("mfcc", 2048.0, 40.0, "sample"),
                422,
                Input,
                "too short to analyse (mfcc: too short: needs at least 2048 samples, got 40)",
            ),
            (
                Error::NoSpeech {
                    peak_dbfs: -240.0,
                    threshold_dbfs: -70.0,
                },
                422,
                Input,
                "the recording is silent",
            ),
            (
                Error::shape("columns for the scaler", 40, 52),
                500,
                Internal,
                "fault on the server",
            ),
            (
                Error::Dataset {
                    path: "/data".into(),
                    reason: "no speakers".into(),
                },
                500,
                Setup,
                "fault on the server",
            ),
            (
                Error::Model {
                    path: "/srv/models".into(),
                    reason: "damaged".into(),
                },
                500,
                Setup,
                "fault on the server",
            ),
            (
                Error::training("mlp", "the loss became NaN"),
                500,
                Internal,
                "fault on the server",
            ),
            (
                Error::Serialize {
                    what: "Mlp",
                    source: json_error,
                },
                500,
                Internal,
                "cannot serialise Mlp",
            ),
            (
                Error::Resample {
                    from: 7,
                    to: 16000,
                    reason: "ratio out of range".into(),
                },
                422,
                Input,
                "from its rate of 7 Hz",
            ),
            (
                Error::Plot {
                    stage: "encoding the PNG",
                    reason: "out of memory".into(),
                },
                500,
                Internal,
                "fault on the server",
            ),
            (
                Error::RetrainNeeded {
                    what: "the MLP cannot take a new speaker".into(),
                },
                422,
                Unsupported,
                "run `speaker-similarity train` again",
            ),
            (
                Error::NoSpeechFound {
                    speech_seconds: 0.2,
                    reason: "0.20 s of speech found in 12.0 s of audio".into(),
                },
                422,
                Input,
                "no speech to analyse: 0.20 s of speech",
            ),
        ]
    }

    #[test]
    fn every_error_variant_answers_its_status_with_a_message() {
        let mut seen = [false; VARIANTS];
        for (e, status, kind, says) in every_variant() {
            let name = format!("{e:?}");
            seen[index(&e)] = true;
            assert_eq!(e.kind(), kind, "{name}");
            let caller = e.is_caller_fault();
            let w = WebError::from_audio(e);
            assert_eq!(w.status.as_u16(), status, "{name}");
            assert_eq!(w.status.is_client_error(), caller, "{name}");
            assert_eq!(w.status.is_server_error(), !caller, "{name}");
            assert!(w.message.contains(says), "{name}: {}", w.message);
            // A person's message: no Rust debug output, and no "internal" for their
            // own mistakes.
            assert!(!w.message.contains("{ "), "{name}: {}", w.message);
            assert_eq!(w.message.contains("internal error"), !caller, "{name}");
            // The server's own paths stay in its log.
            if kind == ErrorKind::Setup {
                assert!(
                    !w.message.contains("/srv") && !w.message.contains("/data"),
                    "{name}"
                );
            }
        }
        let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
        assert!(missing.is_empty(), "variants without a case: {missing:?}");
    }
}
