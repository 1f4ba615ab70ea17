//! RTTM, NIST's "rich transcription time marked" format, one speaker turn a line:
//!
//! ```text
//! SPEAKER <file> 1 <start> <duration> <NA> <NA> <label> <NA> <NA>
//! ```
//!
//! Times are in seconds. Labels hold no whitespace (a speaker id, or `unknown_k`).
//! Lines of other types (`SPKR-INFO`, `LEXEME`, …), blank lines and `;;` comments are
//! skipped when reading.
//!
//! ```
//! use speaker_similarity::diarize::rttm::{self, Turn};
//! # fn main() -> speaker_similarity::Result<()> {
//! let turns = vec![Turn::new(0.5, 2.0, "alice")?, Turn::new(2.25, 4.0, "unknown_0")?];
//! let text = rttm::to_string("meeting", &turns)?;
//! assert!(text.starts_with("SPEAKER meeting 1 0.500 1.500 <NA> <NA> alice <NA> <NA>"));
//! let back = rttm::parse(&text)?;
//! assert_eq!(back.len(), 2);
//! assert_eq!(back[1].1.label, "unknown_0");
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One speaker turn: `label` speaks from `start` to `end` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Start in seconds (>= 0).
    pub start: f64,
    /// End in seconds (> start).
    pub end: f64,
    /// Speaker label, no whitespace.
    pub label: String,
}

impl Turn {
    /// A checked turn: finite times, `0 <= start < end`, a non-empty label without
    /// whitespace.
    pub fn new(start: f64, end: f64, label: impl Into<String>) -> Result<Turn> {
        let t = Turn {
            start,
            end,
            label: label.into(),
        };
        t.validate()?;
        Ok(t)
    }

    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }

    /// Check the invariants of [`Turn::new`].
    pub fn validate(&self) -> Result<()> {
        if !(self.start.is_finite() && self.end.is_finite() && self.start >= 0.0) {
            return Err(Error::param(
                "turn",
                format!(
                    "times {} .. {} are not finite seconds >= 0",
                    self.start, self.end
                ),
            ));
        }
        if self.end <= self.start {
            return Err(Error::param(
                "turn",
                format!("end {} is not after start {}", self.end, self.start),
            ));
        }
        check_label(&self.label)
    }
}

/// A label usable in RTTM: non-empty, no whitespace.
pub fn check_label(label: &str) -> Result<()> {
    if label.is_empty() || label.chars().any(char::is_whitespace) {
        return Err(Error::param(
            "label",
            format!("{label:?} is empty or holds whitespace (RTTM labels cannot)"),
        ));
    }
    Ok(())
}

/// Parse RTTM text into `(file, turn)` pairs, in file order. Turns of zero duration
/// are skipped (some tools write them); anything malformed is an error naming the line.
pub fn parse(text: &str) -> Result<Vec<(String, Turn)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(";;") || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] != "SPEAKER" {
            continue;
        }
        let bad = |why: &str| Error::param("rttm", format!("line {}: {why}: {line:?}", i + 1));
        if f.len() < 8 {
            return Err(bad("fewer than 8 fields"));
        }
        let start: f64 = f[3].parse().map_err(|_| bad("start is not a number"))?;
        let dur: f64 = f[4].parse().map_err(|_| bad("duration is not a number"))?;
        if !(start.is_finite() && dur.is_finite() && start >= 0.0 && dur >= 0.0) {
            return Err(bad("start and duration must be finite and >= 0"));
        }
        if dur == 0.0 {
            continue;
        }
        out.push((
            f[1].to_string(),
            Turn::new(start, start + dur, f[7]).map_err(|e| bad(&e.to_string()))?,
        ));
    }
    Ok(out)
}

/// Read an RTTM file (see [`parse`]).
pub fn read(path: impl AsRef<Path>) -> Result<Vec<(String, Turn)>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text).map_err(|e| match e {
        Error::InvalidParameter { reason, .. } => {
            Error::param("rttm", format!("{}: {reason}", path.display()))
        }
        e => e,
    })
}

/// The turns of one file (`file = None`: of every file).
pub fn turns_of(entries: &[(String, Turn)], file: Option<&str>) -> Vec<Turn> {
    entries
        .iter()
        .filter(|(f, _)| file.is_none_or(|want| want == f))
        .map(|(_, t)| t.clone())
        .collect()
}

/// RTTM text of `turns` of recording `file` (millisecond precision).
pub fn to_string(file: &str, turns: &[Turn]) -> Result<String> {
    check_label(file).map_err(|_| {
        Error::param(
            "file",
            format!("{file:?} is empty or holds whitespace (RTTM file ids cannot)"),
        )
    })?;
    let mut s = String::new();
    for t in turns {
        t.validate()?;
        let _ = writeln!(
            s,
            "SPEAKER {file} 1 {:.3} {:.3} <NA> <NA> {} <NA> <NA>",
            t.start,
            t.duration(),
            t.label
        );
    }
    Ok(s)
}

/// Write `turns` as an RTTM file: written beside `path`, then renamed into place, so
/// nothing half-written is ever left at `path`.
pub fn write(path: impl AsRef<Path>, file: &str, turns: &[Turn]) -> Result<()> {
    let text = to_string(file, turns)?;
    crate::audio::write_atomic(path.as_ref(), text.as_bytes())
}

/// A recording id usable in RTTM from a file path: its stem with whitespace replaced
/// by `_` (`"my talk.wav"` → `"my_talk"`).
pub fn file_id(path: impl AsRef<Path>) -> String {
    let stem = path
        .as_ref()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id: String = stem
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    if id.is_empty() {
        "recording".into()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let turns = vec![
            Turn::new(0.0, 1.25, "a").unwrap(),
            Turn::new(1.5, 3.0, "unknown_1").unwrap(),
        ];
        let text = to_string("rec", &turns).unwrap();
        let back = turns_of(&parse(&text).unwrap(), Some("rec"));
        assert_eq!(back, turns);
        assert!(Turn::new(1.0, 1.0, "a").is_err());
        assert!(Turn::new(0.0, 1.0, "two words").is_err());
        assert!(Turn::new(f64::NAN, 1.0, "a").is_err());
        assert!(parse("SPEAKER rec 1 x 1.0 <NA> <NA> a <NA> <NA>").is_err());
        assert!(parse("SPEAKER rec 1 0.0").is_err());
        assert!(parse("SPEAKER rec 1 -1 1 <NA> <NA> a").is_err());
        assert_eq!(parse(";; comment\n\nSPKR-INFO x\n").unwrap().len(), 0);
        assert!(to_string("my file", &turns).is_err());
        assert_eq!(file_id("/x/my talk.wav"), "my_talk");
    }
}
