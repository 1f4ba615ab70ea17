//! Saving and loading trained models as JSON files.
//!
//! Every file is an envelope
//! `{"format": "speaker-similarity", "kind": "DiagGmm", "version": 1, "model": {...}}`
//! so that loading can tell a foreign file, a model of another kind or of another
//! format version from a damaged one, and say so. Files are written to a temporary
//! file beside the target and renamed, so a crash never leaves half a model.
//! A loaded model is validated (shapes agree, values finite and in range), so a
//! hand-edited file cannot cause a panic later.
//!
//! ```
//! use ndarray::array;
//! use speaker_similarity::models::StandardScaler;
//! use speaker_similarity::persist::{load, save};
//! let dir = std::env::temp_dir().join(format!("persist-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("scaler.json");
//! let s = StandardScaler::fit(array![[1.0f32, 2.0], [3.0, 5.0]].view()).unwrap();
//! save(&path, &s).unwrap();
//! let back: StandardScaler = load(&path).unwrap();
//! assert_eq!(s, back);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use crate::error::{Error, Result};
use crate::models::{Baseline, DiagGmm, GmmClassifier, GmmUbmClassifier, Mlp, StandardScaler, Ubm};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// The `format` field of every model file.
pub const FORMAT: &str = "speaker-similarity";

/// A model that can be saved with [`save`] and loaded with [`load`].
pub trait Persist: Serialize + DeserializeOwned {
    /// The `kind` field of its files (the type's name).
    const KIND: &'static str;
    /// The current format version of this kind.
    const VERSION: u64 = 1;
    /// Check a freshly loaded value (shapes, finiteness, ranges).
    fn check(&self) -> Result<()>;
    /// Read the `model` field of a file of an older format `version` (below
    /// [`Persist::VERSION`]) when this build still can; `None` when it cannot (the
    /// file is then refused with a message to train again).
    fn upgrade(version: u64, model: &Value) -> Option<Result<Self>> {
        let _ = (version, model);
        None
    }
}

macro_rules! persist {
    ($t:ty, $kind:literal) => {
        impl Persist for $t {
            const KIND: &'static str = $kind;
            fn check(&self) -> Result<()> {
                self.validate()
            }
        }
    };
}

persist!(DiagGmm, "DiagGmm");
persist!(GmmClassifier, "GmmClassifier");
persist!(Ubm, "Ubm");
persist!(GmmUbmClassifier, "GmmUbmClassifier");
persist!(Mlp, "Mlp");
persist!(StandardScaler, "StandardScaler");
persist!(Baseline, "Baseline");

/// The model as an envelope JSON string.
pub fn to_json<T: Persist>(model: &T) -> Result<String> {
    let inner = serde_json::to_value(model).map_err(|source| Error::Serialize {
        what: T::KIND,
        source,
    })?;
    let env = serde_json::json!({
        "format": FORMAT,
        "kind": T::KIND,
        "version": T::VERSION,
        "model": inner,
    });
    serde_json::to_string(&env).map_err(|source| Error::Serialize {
        what: T::KIND,
        source,
    })
}

/// Parse an envelope JSON string; `origin` names the source in errors.
pub fn from_json<T: Persist>(text: &str, origin: &Path) -> Result<T> {
    let bad = |reason: String| Error::Model {
        path: origin.to_path_buf(),
        reason,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            bad(format!("truncated model file ({e})"))
        } else {
            bad(format!("not a model file: invalid JSON ({e})"))
        }
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("not a model file: the JSON is not an object".into()))?;
    match obj.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(bad(format!(
                "foreign file: format `{other}`, expected `{FORMAT}`"
            )))
        }
        None => {
            return Err(bad(format!(
                "foreign file: no `format: \"{FORMAT}\"` field"
            )))
        }
    }
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("<none>");
    if kind != T::KIND {
        return Err(bad(format!("holds a `{kind}`, expected a `{}`", T::KIND)));
    }
    let inner = obj
        .get("model")
        .ok_or_else(|| bad("no `model` field".into()))?;
    let model: T = match obj.get("version").and_then(Value::as_u64) {
        Some(v) if v == T::VERSION => {
            T::deserialize(inner).map_err(|e| bad(format!("damaged {}: {e}", T::KIND)))?
        }
        Some(v) if v < T::VERSION => match T::upgrade(v, inner) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                return Err(bad(format!(
                    "{} format version {v}, written by an older speaker-similarity, could \
                     not be converted to version {} ({e}): run `speaker-similarity train` \
                     again to rebuild it",
                    T::KIND,
                    T::VERSION
                )))
            }
            None => {
                return Err(bad(format!(
                    "{} format version {v}, written by an older speaker-similarity; this \
                     build reads version {}: run `speaker-similarity train` again to \
                     rebuild it",
                    T::KIND,
                    T::VERSION
                )))
            }
        },
        Some(v) => {
            return Err(bad(format!(
                "{} format version {v}, written by a newer speaker-similarity; this \
                 build reads version {}",
                T::KIND,
                T::VERSION
            )))
        }
        None => return Err(bad("no format version".into())),
    };
    model
        .check()
        .map_err(|e| bad(format!("invalid {}: {e}", T::KIND)))?;
    Ok(model)
}

/// Save `model` to `path` atomically (temporary file + rename).
pub fn save<T: Persist>(path: impl AsRef<Path>, model: &T) -> Result<()> {
    // Written straight to the file, as `to_json` lays it out (the envelope's keys in
    // the same order): no copy of a large model as a JSON tree or string in memory.
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        format: &'static str,
        kind: &'static str,
        model: &'a T,
        version: u64,
    }
    let env = Envelope {
        format: FORMAT,
        kind: T::KIND,
        model,
        version: T::VERSION,
    };
    crate::audio::write_atomic_with(path.as_ref(), |w| {
        serde_json::to_writer(w, &env).map_err(std::io::Error::other)
    })
}

/// Load a model of type `T` from `path`. A missing file is [`Error::Io`]; an
/// empty, truncated, non-JSON, foreign, other-kind, other-version or invalid file
/// is [`Error::Model`] saying which.
pub fn load<T: Persist>(path: impl AsRef<Path>) -> Result<T> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::Model {
            path: path.to_path_buf(),
            reason: "the file is empty".into(),
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Model {
        path: path.to_path_buf(),
        reason: "not a model file: the bytes are not UTF-8 text".into(),
    })?;
    from_json(text, path)
}
