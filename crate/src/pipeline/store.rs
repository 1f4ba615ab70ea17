//! A trained speaker set on disk: one model directory.
//!
//! ```text
//! MODEL_DIR/
//!   models.json    every trained model, the speakers and the settings
//!                  (a `persist` envelope of kind "SpeakerModels")
//!   history.json   the MLP's training history, for plotting (when trained)
//! ```
//! The directory is written beside its target and swapped into place in one step,
//! so a crash leaves either the old model directory or the new one, never half of
//! one (see [`SpeakerModels::save_with`]).

use std::path::Path;

use super::train::SpeakerModels;
use crate::atomic_dir;
use crate::error::{Error, Result};
use crate::persist::{self, Persist};

/// The file holding the models inside a model directory.
pub const MODELS_FILE: &str = "models.json";
/// The file holding the MLP's training history inside a model directory.
pub const HISTORY_FILE: &str = "history.json";

impl Persist for SpeakerModels {
    const KIND: &'static str = "SpeakerModels";
    /// Version 2: the models as a list of tagged [`TrainedModel`](crate::models::TrainedModel)s
    /// (version 1 had one field per model).
    const VERSION: u64 = 2;
    fn check(&self) -> Result<()> {
        self.validate()
    }
    /// Version 1 is converted (see `pipeline::legacy`).
    fn upgrade(version: u64, model: &serde_json::Value) -> Option<Result<Self>> {
        (version == 1).then(|| super::legacy::from_v1(model))
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

impl SpeakerModels {
    /// Save to the model directory `dir` (created; an existing model directory is
    /// replaced, any other non-empty directory is refused). The directory is
    /// replaced whole: at every instant `dir` holds the complete old model
    /// directory or the complete new one (see [`SpeakerModels::save_with`]).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_with(dir, &[])
    }

    /// [`SpeakerModels::save`], with more files (`(file name, bytes)`, such as an
    /// evaluation summary) written into the same directory and put in place in the
    /// same step as the models, so they always belong to each other.
    ///
    /// The new directory is written beside `dir` in a hidden `.NAME.tmp-PID-N`
    /// and swapped in by one rename (on Linux an atomic exchange with the old
    /// version, which is then removed). A process killed at any point leaves `dir`
    /// as it was, or wholly new; a staging directory it leaves behind is never
    /// read and is removed by the next save to the same `dir`.
    pub fn save_with(&self, dir: impl AsRef<Path>, extra: &[(&str, &[u8])]) -> Result<()> {
        let dir = dir.as_ref();
        if dir.exists() {
            if !dir.is_dir() {
                return Err(Error::Model {
                    path: dir.to_path_buf(),
                    reason: "exists and is not a directory".into(),
                });
            }
            let has_models = dir.join(MODELS_FILE).exists();
            let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
            if !has_models && !empty {
                return Err(Error::Model {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "is a non-empty directory without {MODELS_FILE}; refusing to \
                         overwrite it (choose a new or empty directory)"
                    ),
                });
            }
        }
        for (name, _) in extra {
            let plain = !name.is_empty()
                && !name.starts_with('.')
                && !name.contains(['/', '\\'])
                && *name != MODELS_FILE
                && *name != HISTORY_FILE;
            if !plain {
                return Err(Error::param(
                    "extra",
                    format!("{name:?} is not a plain file name of its own"),
                ));
            }
        }
        let tmp = atomic_dir::staging(dir)?;
        let written = (|| -> Result<()> {
            persist::save(tmp.join(MODELS_FILE), self)?;
            if let Some(h) = self.history() {
                let json = serde_json::to_string_pretty(h).map_err(|source| Error::Serialize {
                    what: "history",
                    source,
                })?;
                let path = tmp.join(HISTORY_FILE);
                crate::audio::write_atomic(&path, json.as_bytes())?;
            }
            for (name, bytes) in extra {
                crate::audio::write_atomic(&tmp.join(name), bytes)?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        atomic_dir::commit(&tmp, dir)
    }

    /// Load a model directory written by [`SpeakerModels::save`]. A missing
    /// directory or file, or a damaged, foreign or inconsistent file, is an error
    /// that says which.
    pub fn load(dir: impl AsRef<Path>) -> Result<SpeakerModels> {
        let dir = dir.as_ref();
        if !dir.exists() {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                reason: "no such model directory (train one with `speaker-similarity train`)"
                    .into(),
            });
        }
        if !dir.is_dir() {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                reason: "not a directory: give the model directory `train --out` wrote".into(),
            });
        }
        let file = dir.join(MODELS_FILE);
        if !file.exists() {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                reason: format!("no {MODELS_FILE} inside: not a model directory"),
            });
        }
        persist::load(file)
    }
}
