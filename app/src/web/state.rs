//! What every request shares: the models (read-only), the settings, the recordings
//! kept in memory, and the gate that bounds the CPU work running at once.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use speaker_similarity::audio::Audio;
use speaker_similarity::pipeline::{RecordingPrediction, SpeakerModels};
use tokio::sync::Semaphore;

use super::error::WebError;
use super::upload::Upload;

/// The server's settings (from the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// Segment length in seconds.
    pub segment_seconds: f64,
    /// Largest upload in bytes.
    pub max_upload: usize,
    /// Longest recording in seconds.
    pub max_seconds: f64,
    /// Recordings kept in memory.
    pub keep: usize,
    /// Bytes of audio kept in memory at most.
    pub keep_bytes: usize,
    /// Analyses running at once.
    pub jobs: usize,
    /// Analyses accepted at once (running and waiting); more get 503.
    pub max_in_flight: usize,
    /// The yt-dlp program.
    pub yt_dlp: String,
    /// Time limit of a URL fetch.
    pub fetch_timeout: Duration,
    /// Which addresses URL fetches may reach, and the resolver that finds them.
    pub policy: super::netpolicy::Policy,
    /// The model directory (enrolments replace it).
    pub model_dir: std::path::PathBuf,
    /// Whether recordings may be enrolled as new speakers (`--allow-enrol`).
    pub allow_enrol: bool,
}

/// An analysed recording, kept for its page and its players.
#[derive(Debug)]
pub struct Recording {
    /// What the person called it (a file name or URL; shown escaped, never a path).
    pub title: String,
    /// The decoded audio.
    pub audio: Audio,
    /// The models' answers.
    pub prediction: RecordingPrediction,
    /// Segment length used.
    pub segment_seconds: f64,
    /// Similar speakers listed per segment.
    pub k: usize,
    /// When it was analysed.
    pub created: SystemTime,
    /// Its diarization for the page's timeline, made when first asked for, with the
    /// model generation it was made under ([`Loaded::generation`]).
    pub diarization: tokio::sync::Mutex<Option<(u64, Arc<super::diarize::PageDiarization>)>>,
}

impl Recording {
    fn size(&self) -> usize {
        self.audio.samples.len() * std::mem::size_of::<f32>()
            + self.title.len()
            + 1024 * (self.prediction.segments.len() + 1)
    }

    /// Segment `i` as audio (the same samples the models saw).
    pub fn segment_audio(&self, i: usize) -> Option<Audio> {
        let s = self.prediction.segments.get(i)?;
        let sr = self.audio.sample_rate as f64;
        let n = self.audio.samples.len();
        let a = ((s.start * sr).round() as usize).min(n);
        let b = (((s.end - s.start) * sr).round() as usize + a).min(n);
        Some(Audio {
            samples: self.audio.samples[a..b].to_vec(),
            sample_rate: self.audio.sample_rate,
        })
    }
}

/// Recordings by id, least recently used forgotten first, bounded in count and bytes.
#[derive(Debug, Default)]
pub struct Store {
    items: HashMap<String, Arc<Recording>>,
    order: VecDeque<String>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl Store {
    fn new(max_items: usize, max_bytes: usize) -> Self {
        Store {
            max_items,
            max_bytes,
            ..Default::default()
        }
    }

    fn insert(&mut self, id: String, rec: Arc<Recording>) {
        self.bytes += rec.size();
        self.items.insert(id.clone(), rec);
        self.order.push_back(id);
        // Keep at least the newest, whatever its size.
        while self.order.len() > 1
            && (self.order.len() > self.max_items || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.order.pop_front() {
                if let Some(r) = self.items.remove(&old) {
                    self.bytes -= r.size();
                }
            }
        }
    }

    fn get(&mut self, id: &str) -> Option<Arc<Recording>> {
        let rec = self.items.get(id)?.clone();
        if let Some(pos) = self.order.iter().position(|x| x == id) {
            if let Some(x) = self.order.remove(pos) {
                self.order.push_back(x);
            }
        }
        Some(rec)
    }

    /// Number of recordings kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// One speaker of the Celebrities page, with the enrolled speakers most like it.
#[derive(Debug, Clone)]
pub struct Celebrity {
    pub id: String,
    pub name: String,
    pub clips: usize,
    /// (id, display name, cosine similarity), best first.
    pub similar: Vec<(String, String, f32)>,
}

/// The speakers and their similarity to each other, computed once at start-up.
#[derive(Debug, Clone)]
pub struct Celebrities {
    pub speakers: Vec<Celebrity>,
    /// "supervector" or "clip-vector".
    pub embedding: &'static str,
    /// Speaker ids in matrix order, and the cosine similarity matrix.
    pub ids: Vec<String>,
    pub matrix: Vec<Vec<f32>>,
}

impl Celebrities {
    fn new(models: &SpeakerModels) -> Self {
        // The same embedding `SpeakerModels::most_similar` ranks queries with.
        let e = models.embedding();
        let (enrolled, embedding) = (e.enrolled(), e.name());
        let ids = enrolled.names().to_vec();
        let m = enrolled.similarity_matrix();
        let matrix: Vec<Vec<f32>> = m.rows().into_iter().map(|r| r.to_vec()).collect();
        let speakers = models
            .speakers
            .iter()
            .zip(&models.clip_counts)
            .map(|(id, &clips)| {
                let similar = match ids.iter().position(|x| x == id) {
                    Some(i) => {
                        let mut others: Vec<(usize, f32)> = matrix[i]
                            .iter()
                            .copied()
                            .enumerate()
                            .filter(|&(j, s)| j != i && s.is_finite())
                            .collect();
                        others.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                        others
                            .into_iter()
                            .take(3)
                            .map(|(j, s)| {
                                let other = &ids[j];
                                (other.clone(), models.display_name(other).to_string(), s)
                            })
                            .collect()
                    }
                    None => Vec::new(),
                };
                Celebrity {
                    id: id.clone(),
                    name: models.display_name(id).to_string(),
                    clips,
                    similar,
                }
            })
            .collect();
        Celebrities {
            speakers,
            embedding,
            ids,
            matrix,
        }
    }
}

/// The model in use and what is computed from it once; replaced whole by an
/// enrolment.
pub struct Loaded {
    pub models: Arc<SpeakerModels>,
    pub celebrities: Celebrities,
    /// 0 for the model loaded at start-up, one more after each enrolment.
    pub generation: u64,
}

impl Loaded {
    pub fn new(models: Arc<SpeakerModels>, generation: u64) -> Self {
        Loaded {
            celebrities: Celebrities::new(&models),
            models,
            generation,
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    current: RwLock<Arc<Loaded>>,
    pub config: Config,
    /// Held through an enrolment's load-modify-save-swap, so that enrolments run
    /// one after the other and none is lost.
    pub enrolment: Mutex<()>,
    store: Mutex<Store>,
    cpu: Arc<Semaphore>,
    fetches: Arc<Semaphore>,
    in_flight: AtomicUsize,
    ids: Mutex<StdRng>,
}

/// A place among the recordings accepted at once, taken before the upload is
/// read; given back when the request leaves, however it leaves.
pub struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (each
    // critical section is a few map operations), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AppState {
    pub fn new(models: Arc<SpeakerModels>, config: Config) -> Result<Self, String> {
        let ids = StdRng::try_from_os_rng()
            .map_err(|e| format!("no operating-system randomness for recording ids: {e}"))?;
        Ok(AppState {
            current: RwLock::new(Arc::new(Loaded::new(models, 0))),
            enrolment: Mutex::new(()),
            store: Mutex::new(Store::new(config.keep, config.keep_bytes)),
            cpu: Arc::new(Semaphore::new(config.jobs)),
            fetches: Arc::new(Semaphore::new(2)),
            in_flight: AtomicUsize::new(0),
            ids: Mutex::new(ids),
            config,
        })
    }

    /// The model in use now, with what is computed from it.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The model in use now.
    pub fn models(&self) -> Arc<SpeakerModels> {
        self.loaded().models.clone()
    }

    /// Put a new model in use: requests that start from now on see it; those
    /// running finish with the one they started with.
    pub fn swap(&self, models: SpeakerModels) -> Arc<Loaded> {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let next = Arc::new(Loaded::new(Arc::new(models), cur.generation + 1));
        *cur = next.clone();
        next
    }

    /// Run CPU work on the blocking pool once a CPU slot is free (at most
    /// `jobs` at once).
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, WebError> + Send + 'static,
    ) -> Result<T, WebError> {
        let permit = self
            .cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| WebError::internal("the server is shutting down"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| WebError::internal(format!("the analysis failed unexpectedly: {e}")))?
    }

    /// A fresh random id: 128 bits as 32 hex digits.
    fn new_id(&self) -> String {
        let mut b = [0u8; 16];
        lock(&self.ids).fill_bytes(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The recording `id`, if it is still kept.
    pub fn recording(&self, id: &str) -> Option<Arc<Recording>> {
        if id.len() != 32 || !id.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        lock(&self.store).get(id)
    }

    /// Recordings kept in memory now.
    pub fn kept(&self) -> usize {
        lock(&self.store).len()
    }

    /// Whether a URL fetch may start now (at most two at once); the permit is held
    /// for the fetch's duration.
    pub async fn fetch_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, WebError> {
        self.fetches
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| WebError::internal("the server is shutting down"))
    }

    /// A place for one more recording, or 503 when `max_in_flight` recordings are
    /// already being read, analysed or waiting. A refused request never counts, so
    /// the first `max_in_flight` at any moment are always admitted.
    pub fn admit(&self) -> Result<InFlight<'_>, WebError> {
        let max = self.config.max_in_flight;
        match self
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            }) {
            Ok(_) => Ok(InFlight(&self.in_flight)),
            Err(n) => Err(WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server is busy ({n} recordings are being analysed or waiting): \
                     try again in a few seconds"
                ),
            )),
        }
    }

    /// Decode an upload, check it, predict every segment, keep the result; returns
    /// its id. Waits for a free CPU slot, holding the place `_ticket` from
    /// [`AppState::admit`].
    pub async fn analyse(
        &self,
        _ticket: InFlight<'_>,
        upload: Upload,
        k: usize,
    ) -> Result<(String, Arc<Recording>), WebError> {
        upload.check(&self.config)?;
        let models = self.models();
        let segment = self.config.segment_seconds;
        let max_seconds = self.config.max_seconds;
        let title = upload.title.clone();
        let (audio, prediction) = self
            .run_blocking(move || {
                let audio = decode(&upload, max_seconds)?;
                drop(upload);
                let prediction = models
                    .predict_recording(&audio, segment, k)
                    .map_err(WebError::from_audio)?;
                Ok((audio, prediction))
            })
            .await?;
        let rec = Arc::new(Recording {
            title,
            audio,
            prediction,
            segment_seconds: segment,
            k,
            created: SystemTime::now(),
            diarization: Default::default(),
        });
        let id = self.new_id();
        lock(&self.store).insert(id.clone(), rec.clone());
        Ok((id, rec))
    }
}

/// Decode an upload (on the blocking pool) and check its length.
pub fn decode(upload: &Upload, max_seconds: f64) -> Result<Audio, WebError> {
    let audio =
        Audio::from_bytes(&upload.bytes, &upload.decoder_hint()).map_err(WebError::from_audio)?;
    if audio.duration() > max_seconds {
        return Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the recording is too long: {:.1} s, the limit is {max_seconds} s \
                 (cut it, or start the server with a larger --max-seconds)",
                audio.duration()
            ),
        ));
    }
    Ok(audio)
}

#[cfg(test)]
mod tests {
    use super::*;
    use speaker_similarity::pipeline::Prediction;

    fn rec(samples: usize) -> Arc<Recording> {
        Arc::new(Recording {
            title: "t".into(),
            audio: Audio {
                samples: vec![0.0; samples],
                sample_rate: 8000,
            },
            prediction: RecordingPrediction {
                duration: samples as f64 / 8000.0,
                segments: Vec::new(),
                overall: Prediction {
                    guesses: Vec::new(),
                    similar: Vec::new(),
                    verdict: None,
                },
            },
            segment_seconds: 2.0,
            k: 3,
            created: SystemTime::now(),
            diarization: Default::default(),
        })
    }

    #[test]
    fn store_forgets_least_recently_used_first() {
        let mut s = Store::new(2, usize::MAX);
        s.insert("a".into(), rec(10));
        s.insert("b".into(), rec(10));
        assert!(s.get("a").is_some()); // a is now the most recent
        s.insert("c".into(), rec(10));
        assert!(s.get("b").is_none());
        assert!(s.get("a").is_some());
        assert!(s.get("c").is_some());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn store_bounds_bytes_but_keeps_the_newest() {
        let one = rec(1000).size();
        let mut s = Store::new(100, one * 2);
        for id in ["a", "b", "c"] {
            s.insert(id.into(), rec(1000));
        }
        assert_eq!(s.len(), 2);
        assert!(s.get("a").is_none());
        s.insert("huge".into(), rec(100_000));
        assert_eq!(s.len(), 1);
        assert!(s.get("huge").is_some());
        assert_eq!(s.bytes, rec(100_000).size());
    }
}
