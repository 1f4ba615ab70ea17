//! A trained speaker set on disk: one model directory.
//!
//! ```text
//! MODEL_DIR/
//!   models.json    every trained model, the speakers and the settings
//!                  (a `persist` envelope of kind "SpeakerModels")
//!   history.json   the MLP's training history, for plotting (when trained)
//! ```
//! The directory is written beside its target and renamed into place, so a crash
//! leaves either the old model directory or the new one, never half of one.

use std::path::{Path, PathBuf};

use super::train::SpeakerModels;
use crate::error::{Error, Result};
use crate::persist::{self, Persist};

/// The file holding the models inside a model directory.
pub const MODELS_FILE: &str = "models.json";
/// The file holding the MLP's training history inside a model directory.
pub const HISTORY_FILE: &str = "history.json";

impl Persist for SpeakerModels {
    const KIND: &'static str = "SpeakerModels";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

impl SpeakerModels {
    /// Save to the model directory `dir` (created; an existing model directory is
    /// replaced, any other non-empty directory is refused).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
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
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let name = dir
            .file_name()
            .ok_or_else(|| Error::param("dir", format!("{} has no name", dir.display())))?
            .to_string_lossy()
            .to_string();
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let written = (|| -> Result<()> {
            std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
            persist::save(tmp.join(MODELS_FILE), self)?;
            if let Some(h) = &self.history {
                let json = serde_json::to_string_pretty(h).map_err(|source| Error::Serialize {
                    what: "history",
                    source,
                })?;
                std::fs::write(tmp.join(HISTORY_FILE), json).map_err(io(&tmp))?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| {
                let _ = std::fs::remove_dir_all(&tmp);
                Error::io(dir, e)
            })?;
        }
        if let Err(e) = std::fs::rename(&tmp, dir) {
            // Put the previous model directory back.
            let _ = std::fs::rename(&old, dir);
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(Error::io(dir, e));
        }
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
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
