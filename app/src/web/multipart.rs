//! The file in a multipart form already read into memory: a pure function of the
//! request head and the bytes, so that the fuzzer (`fuzz/`, which compiles this very
//! file) runs the code the server runs.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::request::Parts;

/// Why a form gave no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// The form cannot be parsed (bad boundary, broken framing, bad part headers).
    Malformed(String),
    /// The file field holds more than the limit.
    TooLarge,
    /// The form parsed but holds no file field.
    NoFile,
}

/// The file of a form: its bytes and the file name the client gave, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormFile {
    /// The field's content.
    pub bytes: Bytes,
    /// The `filename` of the part's `Content-Disposition`.
    pub file_name: Option<String>,
}

/// The first file field of the multipart form `body`: the field named `audio`,
/// `file` or `audio_data`, or any field with a file name. `parts` is the request's
/// head (its `Content-Type` carries the boundary; its extensions the body limit).
pub async fn file_field(parts: Parts, body: Bytes, limit: usize) -> Result<FormFile, FormError> {
    let req = Request::from_parts(parts, Body::from(body));
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| FormError::Malformed(e.body_text()))?;
    let bad_form =
        |e: axum::extract::multipart::MultipartError| FormError::Malformed(e.body_text());
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        let is_file = matches!(field.name(), Some("audio" | "file" | "audio_data"))
            || field.file_name().is_some();
        if !is_file {
            continue;
        }
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(bad_form)?;
        if bytes.len() > limit {
            return Err(FormError::TooLarge);
        }
        return Ok(FormFile { bytes, file_name });
    }
    Err(FormError::NoFile)
}
