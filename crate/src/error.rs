//! The one error type of the crate.
//!
//! Every input a user can give — files, directories, model files, parameters — is
//! checked, and a problem comes back as an [`Error`] that names what is wrong. No
//! function of this crate panics on user input.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `speaker_similarity`.
///
/// The enum is exhaustive on purpose: a program that answers errors (the web app maps
/// each one to an HTTP status) matches every variant, so a new variant cannot slip
/// through a catch-all. [`Error::kind`] says whose fault an error is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but holds zero bytes.
    #[error("{}: the file is empty (0 bytes)", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not in any audio format this crate reads.
    #[error("{}: not an audio file this tool can read ({reason})", path.display())]
    NotAudio {
        /// The file (or `<upload>` for bytes given in memory).
        path: PathBuf,
        /// What the decoders said.
        reason: String,
    },
    /// The file is audio but damaged: truncated header or data, inconsistent fields.
    #[error("{}: damaged audio: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An audio encoding this crate does not decode (for example 64-bit float WAV).
    #[error("{}: unsupported audio encoding: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Which encoding.
        reason: String,
    },
    /// The audio decodes to zero samples.
    #[error("{}: the audio holds no samples", path.display())]
    NoSamples {
        /// The file.
        path: PathBuf,
    },
    /// A sample is NaN or infinite.
    #[error("{what}: sample {index} is not a finite number ({value})")]
    NonFinite {
        /// The file or buffer.
        what: String,
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A parameter or argument is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// The input is too short for the requested computation: fewer samples, frames,
    /// rows, clips or seconds than it needs.
    ///
    /// ```
    /// use speaker_similarity::{features::lpc, Error};
    ///
    /// match lpc(&[0.1; 4], 12).unwrap_err() {
    ///     Error::TooShort { needed, got, unit, .. } => {
    ///         assert_eq!((needed, got, unit), (13.0, 4.0, "sample"));
    ///     }
    ///     other => panic!("{other}"),
    /// }
    /// ```
    #[error(
        "{what}: too short: needs at least {needed} {}, got {got}",
        plural(*.needed, .unit)
    )]
    TooShort {
        /// What was too short, with its context (a file, a speaker, a computation).
        what: String,
        /// The least amount the computation needs, in `unit`s.
        needed: f64,
        /// The amount given, in `unit`s.
        got: f64,
        /// The unit, singular: `sample`, `frame`, `row`, `clip`, `speaker`, `class`,
        /// `label`, `second`.
        unit: &'static str,
    },
    /// The audio holds no speech to analyse: its loudest sample is below the
    /// silence threshold (digital silence or nearly so).
    #[error(
        "no speech: the recording is silent (peak {peak_dbfs:.1} dBFS, below \
         {threshold_dbfs:.0} dBFS)"
    )]
    NoSpeech {
        /// The loudest sample, in dB relative to full scale (-240 for all zeros).
        peak_dbfs: f32,
        /// The threshold below which a recording counts as silent.
        threshold_dbfs: f32,
    },
    /// The audio is not silent, but voice activity detection found too little
    /// speech in it for the analysis asked (noise only, or speech too sparse).
    #[error("no speech: {reason}")]
    NoSpeechFound {
        /// Seconds of speech found.
        speech_seconds: f64,
        /// What was looked for and what was found.
        reason: String,
    },
    /// Arrays, tables or models whose shapes do not fit together: a programming
    /// error of the caller of a library function, or parts of a model that disagree.
    #[error("shape mismatch: {what}: expected {expected}, got {got}")]
    Shape {
        /// What has the wrong shape (`labels`, `scores of gmm-ubm`, `frames`).
        what: String,
        /// The shape that fits, in words or as `(rows, columns)`.
        expected: String,
        /// The shape given.
        got: String,
    },
    /// A data set directory that cannot be used.
    #[error("data set {}: {reason}", path.display())]
    Dataset {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model file that is missing, damaged, foreign or of another version.
    #[error("model file {}: {reason}", path.display())]
    Model {
        /// The model file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Training could not produce a usable model (for example, a numerical
    /// breakdown).
    #[error("training {model} failed: {reason}")]
    Training {
        /// The model being trained (`svm`, `gmm-ubm`, `evaluation`).
        model: String,
        /// What went wrong.
        reason: String,
    },
    /// The change asked of a trained model (enrolling or removing one speaker) needs
    /// the model trained again.
    #[error("{what}; run `speaker-similarity train` again")]
    RetrainNeeded {
        /// What cannot be done, and why.
        what: String,
    },
    /// A value could not be turned into JSON (a model, a training history).
    #[error("cannot serialise {what}: {source}")]
    Serialize {
        /// What was being written (a model kind, `history`).
        what: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// Resampling failed.
    #[error("resampling from {from} Hz to {to} Hz failed: {reason}")]
    Resample {
        /// The audio's sample rate.
        from: u32,
        /// The rate asked for.
        to: u32,
        /// What the resampler said.
        reason: String,
    },
    /// Drawing a chart failed.
    #[error("plot failed while {stage}: {reason}")]
    Plot {
        /// The step that failed: `drawing`, `parsing the SVG`, `encoding the PNG`,
        /// `writing a PNG`.
        stage: &'static str,
        /// What the drawing library said.
        reason: String,
    },
}

/// Whose fault an [`Error`] is, for programs that answer errors: a web server maps
/// [`ErrorKind::Input`] and [`ErrorKind::Unsupported`] to 4xx and the rest to 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// What the caller gave cannot be used: an empty, damaged or silent recording,
    /// one too short for the analysis, a NaN sample, a parameter out of range.
    Input,
    /// What the caller gave is in a format or encoding this crate does not read.
    Unsupported,
    /// The files the program was pointed at: a file that cannot be read or written,
    /// a damaged or foreign model file, an unusable data set directory. The fault of
    /// whoever named them (in the web app, the server's operator).
    Setup,
    /// A computation that failed on valid input, or parts that disagree: a training
    /// breakdown, mismatched shapes, serialisation, drawing. Never the caller's
    /// fault.
    Internal,
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whose fault the error is (see [`ErrorKind`]).
    ///
    /// ```
    /// use speaker_similarity::{Audio, Error, ErrorKind};
    ///
    /// let e = Audio::from_bytes(b"hello, not a recording", "note.txt").unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Unsupported);
    /// assert!(e.is_caller_fault());
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::EmptyFile { .. }
            | Error::Decode { .. }
            | Error::NoSamples { .. }
            | Error::NonFinite { .. }
            | Error::InvalidParameter { .. }
            | Error::TooShort { .. }
            | Error::NoSpeech { .. }
            | Error::NoSpeechFound { .. }
            | Error::Resample { .. } => ErrorKind::Input,
            Error::NotAudio { .. } | Error::Unsupported { .. } | Error::RetrainNeeded { .. } => {
                ErrorKind::Unsupported
            }
            Error::Io { .. } | Error::Dataset { .. } | Error::Model { .. } => ErrorKind::Setup,
            Error::Shape { .. }
            | Error::Training { .. }
            | Error::Serialize { .. }
            | Error::Plot { .. } => ErrorKind::Internal,
        }
    }

    /// Whether the caller can fix the error by giving other input
    /// ([`ErrorKind::Input`] or [`ErrorKind::Unsupported`]).
    pub fn is_caller_fault(&self) -> bool {
        matches!(self.kind(), ErrorKind::Input | ErrorKind::Unsupported)
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An [`Error::TooShort`]: `what` needs at least `needed` `unit`s and got `got`.
    pub fn too_short(what: impl Into<String>, needed: f64, got: f64, unit: &'static str) -> Self {
        Error::TooShort {
            what: what.into(),
            needed,
            got,
            unit,
        }
    }

    /// An [`Error::Shape`]: `what` should be `expected` and is `got`.
    pub fn shape(what: impl Into<String>, expected: impl ToString, got: impl ToString) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// An [`Error::Training`] of `model`.
    pub fn training(model: impl Into<String>, reason: impl ToString) -> Self {
        Error::Training {
            model: model.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error with `context` (a file, a speaker) put before what it is about,
    /// where the error names its subject in text ([`Error::TooShort`],
    /// [`Error::Shape`], [`Error::Training`]); other errors come back unchanged, as
    /// they name their file in a field of their own.
    pub fn within(self, context: impl std::fmt::Display) -> Self {
        match self {
            Error::TooShort {
                what,
                needed,
                got,
                unit,
            } => Error::TooShort {
                what: format!("{context}: {what}"),
                needed,
                got,
                unit,
            },
            Error::Shape {
                what,
                expected,
                got,
            } => Error::Shape {
                what: format!("{context}: {what}"),
                expected,
                got,
            },
            Error::Training { model, reason } => Error::Training {
                model: format!("{model} ({context})"),
                reason,
            },
            other => other,
        }
    }

    /// An [`Error::InvalidParameter`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

/// `unit` in the plural unless `n` is one.
fn plural(n: f64, unit: &str) -> String {
    if n == 1.0 {
        unit.to_string()
    } else if unit.ends_with('s') {
        format!("{unit}es")
    } else {
        format!("{unit}s")
    }
}
