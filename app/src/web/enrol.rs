//! "Enrol this voice as...": a kept recording added as a new speaker of the
//! server's model directory, only when the server runs with `--allow-enrol`.
//!
//! An enrolment loads the model directory, enrols the speaker through the
//! library ([`SpeakerModels::enroll`]: its models MAP-adapted from the UBM, the
//! others untouched), saves the directory (replaced whole, atomically) and swaps
//! the server's model in memory, all under one lock: enrolments run one after the
//! other, so none overwrites another. Any refusal leaves the directory unchanged.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use speaker_similarity::pipeline::{self, EnrolReport, SpeakerModels};
use speaker_similarity::Error;

use super::error::{ApiError, PageError, WebError};
use super::html::{self, esc};
use super::state::{lock, AppState, Recording};
use crate::commands::enroll::report_json;

/// What an enrolment asks for.
#[derive(Debug, Deserialize)]
pub struct EnrolRequest {
    /// The new speaker's id.
    pub speaker: String,
    /// Its display name (optional; empty means none).
    #[serde(default)]
    pub name: Option<String>,
}

fn forbidden() -> WebError {
    WebError::new(
        StatusCode::FORBIDDEN,
        "enrolment is off on this server: it runs without --allow-enrol, so recordings \
         cannot be added as speakers (start `speaker-similarity serve --allow-enrol` to allow it)",
    )
}

/// A library error of an enrolment as an answer: the request's fault (4xx) or
/// the server's (5xx, details in the log).
fn enrol_error(e: Error) -> WebError {
    match e {
        Error::InvalidParameter { .. } => WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{e}; the model is unchanged"),
        ),
        Error::NoSpeech { .. } | Error::NoSpeechFound { .. } | Error::TooShort { .. } => {
            let w = WebError::from_audio(e);
            WebError::new(
                w.status,
                format!(
                    "cannot enrol this recording: {}; the model is unchanged",
                    w.message
                ),
            )
        }
        Error::Model { .. } | Error::Io { .. } => {
            eprintln!("speaker-similarity serve: enrolment failed: {e}");
            WebError::internal(
                "internal error: the model directory could not be read or written (the \
                 server's log says why); the model in use is unchanged",
            )
        }
        e => WebError::from_audio(e),
    }
}

/// Enrol `rec` as `req.speaker`, serialised with every other enrolment; the
/// report and the model now in use.
pub async fn enrol(
    st: &Arc<AppState>,
    rec: Arc<Recording>,
    req: EnrolRequest,
) -> Result<(EnrolReport, Arc<SpeakerModels>), WebError> {
    if !st.config.allow_enrol {
        return Err(forbidden());
    }
    let id = req.speaker.trim().to_string();
    pipeline::check_speaker_id(&id).map_err(enrol_error)?;
    let name = req
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if let Some(n) = &name {
        if n.chars().count() > 120 || n.chars().any(char::is_control) {
            return Err(WebError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a display name has at most 120 characters and no control characters; \
                 the model is unchanged",
            ));
        }
    }
    let st2 = st.clone();
    st.run_blocking(move || {
        let _one_at_a_time = lock(&st2.enrolment);
        let dir = &st2.config.model_dir;
        let mut models = SpeakerModels::load(dir).map_err(enrol_error)?;
        if models.speakers.contains(&id) {
            return Err(WebError::new(
                StatusCode::CONFLICT,
                format!(
                    "speaker id {id:?} is taken (enrolled as {:?}): choose another id; the \
                     model is unchanged",
                    models.display_name(&id)
                ),
            ));
        }
        let clip = pipeline::extract(&rec.audio, &models.params).map_err(enrol_error)?;
        if clip.frames.nrows() == 0 {
            return Err(enrol_error(Error::NoSpeechFound {
                speech_seconds: 0.0,
                reason: "the recording has no voiced frame".into(),
            }));
        }
        // The narrowband models' features too (when the set has them), so they
        // keep the new voice; a recording they cannot use leaves them out.
        let narrow = models.narrowband_features(&rec.audio).ok().flatten();
        let narrow = narrow.as_ref().map(std::slice::from_ref);
        let report = models
            .enroll_with(&id, name.as_deref(), std::slice::from_ref(&clip), narrow)
            .map_err(enrol_error)?;
        models.save(dir).map_err(enrol_error)?;
        let loaded = st2.swap(models);
        Ok((report, loaded.models.clone()))
    })
    .await
}

fn recording(st: &AppState, id: &str) -> Result<Arc<Recording>, WebError> {
    st.recording(id)
        .ok_or_else(|| WebError::not_found("no such recording (it may have been forgotten)"))
}

/// The answer of the API: the library's report (as `enroll --json` prints it),
/// the display name and the speakers now enrolled.
fn answer(r: &EnrolReport, models: &SpeakerModels) -> Value {
    let mut v = report_json(r);
    v["name"] = json!(models.display_name(&r.speaker));
    v["enrolled"] = json!(models.speakers);
    v
}

/// `POST /api/recordings/{id}/enrol` with `{"speaker": ID, "name": NAME}`.
pub async fn api(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Json<EnrolRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    if !st.config.allow_enrol {
        return Err(forbidden().into());
    }
    let Json(req) = body.map_err(|e| {
        WebError::bad_request(format!(
            "expected JSON {{\"speaker\": \"id\", \"name\": \"Display Name\"}}: {}",
            e.body_text()
        ))
    })?;
    let rec = recording(&st, &id)?;
    let (r, models) = enrol(&st, rec, req).await?;
    Ok(Json(answer(&r, &models)))
}

/// `POST /segments/{id}/enrol`: the page's form (`speaker`, `name`).
pub async fn page(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    form: Result<Form<EnrolRequest>, FormRejection>,
) -> Result<Html<String>, PageError> {
    if !st.config.allow_enrol {
        return Err(forbidden().into());
    }
    let Form(req) =
        form.map_err(|e| WebError::bad_request(format!("bad form: {}", e.body_text())))?;
    let rec = recording(&st, &id)?;
    let title = rec.title.clone();
    let (r, models) = enrol(&st, rec, req).await?;
    let stale = if r.out_of_date.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"hint\">Out of date until the model is trained again, and left out of \
             predictions: {}.</p>",
            r.out_of_date
                .iter()
                .map(|(k, _)| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let body = format!(
        "<h1>Enrolled</h1><section class=\"card\" id=\"enrolled\" data-speaker=\"{sid}\">\
         <p><strong>{title}</strong> is now enrolled as <strong id=\"enrolled-name\">{name}</strong> \
         (<code>{sid}</code>). The model has {n} speakers; the next upload is scored against them.</p>\
         {stale}<p><a class=\"button\" href=\"/segments/{id}\">Back to the recording</a> \
         <a class=\"button\" href=\"/celebrities\">All speakers</a></p></section>",
        sid = esc(&r.speaker),
        title = esc(&title),
        name = esc(models.display_name(&r.speaker)),
        n = r.n_speakers,
        id = esc(&id),
    );
    Ok(html::layout(&st, "Enrolled", "", &body))
}

/// The form on a recording's page (empty without `--allow-enrol`).
pub fn form_html(st: &AppState, id: &str) -> String {
    if !st.config.allow_enrol {
        return String::new();
    }
    format!(
        r#"<section class="card" id="enrol-card">
  <h2>Enrol this voice as...</h2>
  <form id="enrol-form" method="post" action="/segments/{id}/enrol">
    <label>Speaker id <input name="speaker" id="enrol-speaker" required maxlength="{max}"
      pattern="[A-Za-z0-9_][A-Za-z0-9._\-]*" placeholder="jane-doe"></label>
    <label>Display name <input name="name" id="enrol-name" maxlength="120" placeholder="Jane Doe"></label>
    <button type="submit" id="enrol-button">Enrol</button>
  </form>
  <p class="hint">Adds the whole recording as a new speaker of this server's model (the
  other speakers are left as they are); the next upload is scored against it. Use a
  recording of one speaker only.</p>
</section>"#,
        id = esc(id),
        max = pipeline::MAX_SPEAKER_ID,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_the_requests_fault_and_say_the_model_is_unchanged() {
        let cases = [
            Error::NoSpeechFound {
                speech_seconds: 0.0,
                reason: "the recording has no voiced frame".into(),
            },
            Error::NoSpeech {
                peak_dbfs: -80.0,
                threshold_dbfs: -70.0,
            },
            Error::param("speaker", "\"../x\": character '/' is not allowed"),
        ];
        for e in cases {
            let w = enrol_error(e);
            assert_eq!(w.status, StatusCode::UNPROCESSABLE_ENTITY, "{w:?}");
            assert!(w.message.ends_with("the model is unchanged"), "{w:?}");
        }
        let w = enrol_error(Error::Model {
            path: "/srv/model".into(),
            reason: "damaged".into(),
        });
        assert_eq!(w.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !w.message.contains("/srv/model"),
            "no server paths to clients"
        );
    }
}
