//! The handlers of the pages: HTML answers, POST-redirect-GET for uploads.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::error::{ApiError, PageError, WebError};
use super::state::AppState;
use super::{diarize, fetch, html, range, upload};

type St = State<Arc<AppState>>;

/// Similar speakers listed per segment on the pages.
pub const PAGE_K: usize = 3;

pub async fn home(State(st): St) -> Html<String> {
    let yt = fetch::find_program(&st.config.yt_dlp).is_some();
    html::home(&st, yt)
}

pub async fn celebrities(State(st): St) -> Html<String> {
    html::celebrities(&st)
}

/// `POST /upload`: a multipart form with the file in `audio`; answers 303 to the
/// segments page.
pub async fn upload(State(st): St, req: Request) -> Result<Response, PageError> {
    let (ticket, req) = upload::admit(&st, req).await?;
    let up = upload::read_upload(req, st.config.max_upload, None).await?;
    let k = PAGE_K.min(st.models().speakers.len());
    let (id, _) = st.analyse(ticket, up, k).await?;
    Ok(Redirect::to(&format!("/segments/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct FetchForm {
    url: String,
}

/// `POST /fetch`: a form with `url`; answers 303 to the segments page.
pub async fn fetch(
    State(st): St,
    form: Result<Form<FetchForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) =
        form.map_err(|e| WebError::bad_request(format!("bad form: {}", e.body_text())))?;
    let _permit = st.fetch_permit().await?;
    let up = fetch::fetch(&st.config, &f.url).await?;
    let k = PAGE_K.min(st.models().speakers.len());
    let (id, _) = st.analyse(st.admit()?, up, k).await?;
    Ok(Redirect::to(&format!("/segments/{id}")).into_response())
}

fn gone() -> WebError {
    WebError::not_found(
        "no such recording: recordings are kept in memory for a while only (the server \
         keeps the latest ones and forgets all on restart). Upload it again from Home.",
    )
}

pub async fn segments(State(st): St, Path(id): Path<String>) -> Result<Html<String>, PageError> {
    let rec = st.recording(&id).ok_or_else(gone)?;
    let diarization = diarize::of_recording(&st, &rec).await?;
    Ok(html::segments(&st, &id, &rec, &diarization))
}

/// `GET /audio/{id}/{n}.wav` (segment n, from 0) or `/audio/{id}/full.wav`,
/// re-encoded from memory as 16-bit PCM WAV; a `Range` of bytes is answered 206
/// (players seek only in files served so).
pub async fn audio(
    State(st): St,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let rec = st.recording(&id).ok_or_else(gone)?;
    let stem = file
        .strip_suffix(".wav")
        .ok_or_else(|| WebError::not_found("no such audio file"))?;
    let audio = if stem == "full" {
        Some(rec.audio.clone())
    } else {
        stem.parse::<usize>()
            .ok()
            .and_then(|i| rec.segment_audio(i))
    }
    .ok_or_else(|| WebError::not_found("no such segment"))?;
    let wav = tokio::task::spawn_blocking(move || audio.to_wav_bytes())
        .await
        .map_err(|e| WebError::internal(format!("encoding failed: {e}")))?;
    let len = wav.len();
    let asked = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let common = [
        (header::CONTENT_TYPE, "audio/wav"),
        (header::CACHE_CONTROL, "private, max-age=3600"),
        (header::ACCEPT_RANGES, "bytes"),
    ];
    Ok(match range::wanted(asked, len) {
        range::Wanted::All => (common, wav).into_response(),
        range::Wanted::Part(r) => (
            StatusCode::PARTIAL_CONTENT,
            common,
            [(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{len}", r.start, r.end - 1),
            )],
            wav[r].to_vec(),
        )
            .into_response(),
        range::Wanted::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [
                (header::CONTENT_RANGE, format!("bytes */{len}")),
                (header::ACCEPT_RANGES, "bytes".to_string()),
            ],
        )
            .into_response(),
    })
}

const APP_JS: &str = include_str!("app.js");

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
        .into_response()
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    let e = WebError::new(StatusCode::NOT_FOUND, format!("nothing at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        ApiError(e).into_response()
    } else {
        PageError(e).into_response()
    }
}
