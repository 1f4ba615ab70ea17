//! Who speaks when, in the web app: `POST /api/diarize`, and the diarization of a
//! kept recording that its page's timeline shows.
//!
//! Clusters are named after the server's enrolled speakers through the model's
//! open-set verdict on each cluster's speech (the speaker id when accepted, else
//! `unknown_k`); a model without an open-set calibration gives `unknown_k` labels.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use speaker_similarity::audio::Audio;
use speaker_similarity::diarize::label::VerdictLabeler;
use speaker_similarity::diarize::source::MemorySource;
use speaker_similarity::diarize::{self, ClusterLabeler, Diarization, DiarizeParams};
use speaker_similarity::pipeline::SpeakerModels;
use speaker_similarity::{Error, Result};

use super::error::{ApiError, WebError};
use super::state::AppState;
use super::upload;
use crate::commands::diarize::diarization_json;

/// Diarize `audio` (named `file`) with the server's defaults (the number of
/// speakers estimated unless `speakers` is given), clusters named through the
/// open-set verdicts of `models` when it has a calibration.
pub fn diarize_audio(
    models: &SpeakerModels,
    audio: &Audio,
    file: &str,
    speakers: Option<usize>,
) -> std::result::Result<Diarization, WebError> {
    let params = DiarizeParams {
        speakers,
        ..DiarizeParams::default()
    };
    params
        .validate()
        .map_err(|e| WebError::bad_request(e.to_string()))?;
    // A model without an open-set calibration names no cluster.
    let labeler = VerdictLabeler::new(models, None).ok();
    let labeler = labeler.as_ref().map(|l| l as &dyn ClusterLabeler);
    let run = || -> Result<Diarization> {
        let mut src = MemorySource::new(audio)?;
        diarize::diarize_source(&mut src, &params, labeler, &|_, _| {})
    };
    match run() {
        Ok(mut d) => {
            d.file = file.to_string();
            Ok(d)
        }
        Err(e @ Error::TooShort { .. }) => Err(WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the recording is too short to tell who speaks when ({e}); send at least \
                 {} s of audio",
                params.window
            ),
        )),
        Err(e) => Err(WebError::from_audio(e)),
    }
}

/// What a recording's page shows: the diarization, or why there is none.
pub type PageDiarization = std::result::Result<Diarization, String>;

/// The diarization of a kept recording under the current model: computed on the
/// blocking pool (one CPU slot) the first time it is asked for, kept with the
/// recording, and computed again after an enrolment changed the model.
pub async fn of_recording(
    st: &AppState,
    rec: &super::state::Recording,
) -> std::result::Result<Arc<PageDiarization>, WebError> {
    let loaded = st.loaded();
    let mut slot = rec.diarization.lock().await;
    if let Some((generation, d)) = slot.as_ref() {
        if *generation == loaded.generation {
            return Ok(d.clone());
        }
    }
    let audio = rec.audio.clone();
    let title = rec.title.clone();
    let models = loaded.models.clone();
    let d = st
        .run_blocking(move || match diarize_audio(&models, &audio, &title, None) {
            Ok(d) => Ok(Ok(d)),
            Err(e) if e.status.is_client_error() => Ok(Err(e.message)),
            Err(e) => Err(e),
        })
        .await?;
    let d = Arc::new(d);
    *slot = Some((loaded.generation, d.clone()));
    Ok(d)
}

/// `POST /api/diarize[?speakers=N][&name=clip.wav]`: the audio as the raw body, or
/// as the `audio` field of a multipart form (the same admission, limits and errors
/// as `/api/predict`); answers `diarize --json`'s JSON. Nothing is kept.
pub async fn api(
    State(st): State<Arc<AppState>>,
    query: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> std::result::Result<Json<Value>, ApiError> {
    let Query(q) =
        query.map_err(|e| WebError::bad_request(format!("bad query string: {}", e.body_text())))?;
    let speakers = match q.get("speakers") {
        None => None,
        Some(s) => Some(s.parse::<usize>().ok().filter(|&n| n >= 1).ok_or_else(|| {
            WebError::bad_request(format!(
                "speakers must be a whole number of at least 1, got {s:?}"
            ))
        })?),
    };
    let (ticket, req) = upload::admit(&st, req).await?;
    let up =
        upload::read_upload(req, st.config.max_upload, q.get("name").map(String::as_str)).await?;
    let _ticket = ticket;
    up.check(&st.config)?;
    let models = st.models();
    let max_seconds = st.config.max_seconds;
    let d = st
        .run_blocking(move || {
            let audio = super::state::decode(&up, max_seconds)?;
            diarize_audio(&models, &audio, &up.title, speakers)
        })
        .await?;
    Ok(Json(diarization_json(&d)))
}
