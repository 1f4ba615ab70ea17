//! The router and the JSON API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, WebError};
use super::state::{AppState, Recording};
use super::{diarize, enrol, fetch, pages, upload};
use crate::commands::predict::recording_json;

type St = State<Arc<AppState>>;

/// Every route of the app.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/celebrities", get(pages::celebrities))
        .route("/segments/{id}", get(pages::segments))
        .route("/audio/{id}/{file}", get(pages::audio))
        .route("/static/app.js", get(pages::script))
        .route("/fetch", post(pages::fetch))
        // The upload routes bound their bodies themselves (see `upload::read_limited`).
        .route(
            "/upload",
            post(pages::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/predict",
            post(predict).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/diarize",
            post(diarize::api).layer(DefaultBodyLimit::disable()),
        )
        .route("/segments/{id}/enrol", post(enrol::page))
        .route("/api/recordings/{id}/enrol", post(enrol::api))
        .route("/api/fetch", post(fetch_url))
        .route("/api/speakers", get(speakers))
        .route("/api/recordings/{id}", get(recording))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// No sniffing, no referrer, and a content policy that allows only this origin's
/// script and media (blob: for the page's own recordings).
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 media-src 'self' blob:; img-src 'self' data:; object-src 'none'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    r
}

/// A recording as the API answers it: `predict --json`'s shape plus its id, page
/// and players.
fn recording_value(st: &AppState, id: &str, rec: &Recording) -> Value {
    let mut v = recording_json(&st.models(), &rec.prediction, rec.segment_seconds);
    v["id"] = json!(id);
    v["title"] = json!(rec.title);
    v["page"] = json!(format!("/segments/{id}"));
    v["audio"] = json!(format!("/audio/{id}/full.wav"));
    v["sample_rate"] = json!(rec.audio.sample_rate);
    v["k"] = json!(rec.k);
    if let Some(segs) = v["segments"].as_array_mut() {
        for (i, s) in segs.iter_mut().enumerate() {
            s["index"] = json!(i);
            s["audio"] = json!(format!("/audio/{id}/{i}.wav"));
        }
    }
    v
}

fn parse_k(st: &AppState, q: &HashMap<String, String>) -> Result<usize, WebError> {
    let n = st.models().speakers.len();
    match q.get("k") {
        None => Ok(pages::PAGE_K.min(n)),
        Some(s) => match s.parse::<usize>() {
            Ok(k) if (1..=n).contains(&k) => Ok(k),
            _ => Err(WebError::bad_request(format!(
                "k must be a whole number from 1 to {n} (the enrolled speakers)"
            ))),
        },
    }
}

/// `POST /api/predict[?k=3][&name=clip.wav]`: the audio as the raw body, or as the
/// `audio` field of a multipart form.
async fn predict(
    State(st): St,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let Query(q) =
        query.map_err(|e| WebError::bad_request(format!("bad query string: {}", e.body_text())))?;
    let k = parse_k(&st, &q)?;
    let (ticket, req) = upload::admit(&st, req).await?;
    let up =
        upload::read_upload(req, st.config.max_upload, q.get("name").map(String::as_str)).await?;
    let (id, rec) = st.analyse(ticket, up, k).await?;
    Ok(Json(recording_value(&st, &id, &rec)))
}

#[derive(Deserialize)]
struct FetchRequest {
    url: String,
    #[serde(default)]
    k: Option<usize>,
}

/// `POST /api/fetch` with `{"url": "https://...", "k": 3}`.
async fn fetch_url(
    State(st): St,
    body: Result<Json<FetchRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(r) = body.map_err(|e| {
        WebError::bad_request(format!(
            "expected JSON {{\"url\": \"https://...\"}}: {}",
            e.body_text()
        ))
    })?;
    let mut q = HashMap::new();
    if let Some(k) = r.k {
        q.insert("k".to_string(), k.to_string());
    }
    let k = parse_k(&st, &q)?;
    let _permit = st.fetch_permit().await?;
    let up = fetch::fetch(&st.config, &r.url).await?;
    let (id, rec) = st.analyse(st.admit()?, up, k).await?;
    Ok(Json(recording_value(&st, &id, &rec)))
}

/// `GET /api/recordings/{id}`: an analysed recording again, with its diarization
/// (`diarize --json`'s JSON, or `{"error": why}`) under `diarization`.
async fn recording(State(st): St, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let rec = st
        .recording(&id)
        .ok_or_else(|| WebError::not_found("no such recording (it may have been forgotten)"))?;
    let mut v = recording_value(&st, &id, &rec);
    v["diarization"] = match &*diarize::of_recording(&st, &rec).await? {
        Ok(d) => crate::commands::diarize::diarization_json(d),
        Err(why) => json!({ "error": why }),
    };
    Ok(Json(v))
}

/// `GET /api/speakers`: the enrolled speakers, their clip counts and nearest
/// neighbours, the models and the server's limits.
async fn speakers(State(st): St) -> Json<Value> {
    let loaded = st.loaded();
    let c = &loaded.celebrities;
    let m = &loaded.models;
    Json(json!({
        "speakers": c.speakers.iter().map(|s| json!({
            "id": s.id,
            "name": s.name,
            "clips": s.clips,
            "similar": s.similar.iter().map(|(id, name, score)| json!({
                "id": id, "name": name, "score": score,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "embedding": c.embedding,
        "models": m.kinds().iter().map(|k| json!({ "name": k.name(), "description": k.description() })).collect::<Vec<_>>(),
        "headline_gmm": m.headline_gmm().map(|k| k.name()),
        "segment_seconds": st.config.segment_seconds,
        "max_upload_bytes": st.config.max_upload,
        "max_seconds": st.config.max_seconds,
        "url_fetch": fetch::find_program(&st.config.yt_dlp).is_some(),
        "recordings_kept": st.kept(),
    }))
}
