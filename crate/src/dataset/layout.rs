//! Directory layouts: detection and readers.
//!
//! The directory is walked once (hidden files and directories — names starting with
//! `.` — skipped, symbolic links followed but never into a directory already visited,
//! so a link loop ends), keeping the files whose extension is one of
//! [`AUDIO_EXTENSIONS`] (any case). Everything else (`LICENSE`, `README.md`, CSV
//! files) is ignored. The audio files' paths relative to the root decide the layout,
//! checked in this order:
//!
//! 1. **FSDD** ([`Layout::Fsdd`]): at least one audio file lies directly in the root,
//!    and every one of them is named `{digit}_{speaker}_{index}.{ext}` (`^\d+_[A-Za-z0-9-]+_\d+\.(wav|flac|mp3|ogg)$`),
//!    e.g. `7_jackson_32.wav`. Speaker = the middle part; no session. Audio in
//!    sub-directories is ignored (with a warning).
//! 2. **VoxCeleb** ([`Layout::VoxCeleb`]): no audio directly in the root, and every
//!    audio file is `id\d{5}/<video>/<clip>`, e.g. `id10001/1zcIwhmdeo4/00001.wav`.
//!    Speaker = the id, session = the video. Display names come from a
//!    `vox1_meta.csv` in the root or up to two directories above it (see
//!    [`read_vox_meta`]).
//! 3. **Folders** ([`Layout::Folders`]) otherwise: the first-level sub-directory is the
//!    speaker, clips are found at any depth below it, and the second-level directory
//!    is the session when the clip lies deeper than directly in the speaker folder
//!    (`alice/2021-03-04/take1.wav` → session `2021-03-04`; `alice/take1.wav` → none).
//!    Audio directly in the root belongs to no speaker and is skipped with a warning.
//!    The dsp34 names `{speaker}-{word}-{rep}.wav` need nothing special.
//!
//! A forced layout reads what fits it and skips (with a warning) what does not.
//! In every layout an optional `speakers.tsv` in the root (`id<TAB>name` per line)
//! supplies display names, as [`crate::synth::write_corpus`] writes it. Clips are
//! sorted by speaker, session and path, so the order never depends on the file
//! system.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Clip, Dataset};
use crate::error::{Error, Result};

/// File extensions read as audio (compared case-insensitively).
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

/// Name of the VoxCeleb1 metadata file searched for display names.
pub const VOX_META_FILE: &str = "vox1_meta.csv";

/// Name of the optional display-name file of any layout (`id<TAB>name` lines).
pub const NAMES_FILE: &str = "speakers.tsv";

/// How a data-set directory is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `speaker/**/clip.wav`: one folder per speaker, the second level (if any) is
    /// the session.
    Folders,
    /// `id10001/<video>/00001.wav`, names from `vox1_meta.csv`.
    VoxCeleb,
    /// `digit_speaker_index.wav` in one flat directory (Free Spoken Digit Dataset).
    Fsdd,
}

impl Layout {
    /// Every layout (for help texts and tests).
    pub const ALL: [Layout; 3] = [Layout::Folders, Layout::VoxCeleb, Layout::Fsdd];

    /// The pattern of the layout, for help texts.
    pub fn pattern(self) -> &'static str {
        match self {
            Layout::Folders => "speaker/[session/]clip.wav",
            Layout::VoxCeleb => "id10001/video/00001.wav",
            Layout::Fsdd => "digit_speaker_index.wav",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Folders => "folders",
            Layout::VoxCeleb => "voxceleb",
            Layout::Fsdd => "fsdd",
        })
    }
}

impl FromStr for Layout {
    type Err = Error;

    /// `folders`, `voxceleb` or `fsdd`, any case (`folder` and `vox` also accepted).
    fn from_str(s: &str) -> Result<Layout> {
        match s.trim().to_ascii_lowercase().as_str() {
            "folders" | "folder" => Ok(Layout::Folders),
            "voxceleb" | "vox" | "voxceleb1" => Ok(Layout::VoxCeleb),
            "fsdd" => Ok(Layout::Fsdd),
            other => Err(Error::param(
                "layout",
                format!("unknown layout `{other}`; expected folders, voxceleb or fsdd"),
            )),
        }
    }
}

/// True when the file name ends in one of [`AUDIO_EXTENSIONS`] (any case).
pub fn is_audio_file(path: impl AsRef<Path>) -> bool {
    path.as_ref()
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// The speaker of an FSDD file name `{digit}_{speaker}_{index}.{ext}`, or `None`
/// when the name does not match `^\d+_[A-Za-z0-9-]+_\d+\.(wav|flac|mp3|ogg)$`
/// (extension in any case).
pub fn fsdd_speaker(file_name: &str) -> Option<&str> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    if !AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(ext)) {
        return None;
    }
    let (digit, rest) = stem.split_once('_')?;
    let (speaker, index) = rest.rsplit_once('_')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let speaker_ok = !speaker.is_empty()
        && speaker
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (digits(digit) && digits(index) && speaker_ok).then_some(speaker)
}

/// True for a VoxCeleb speaker id: `id` followed by exactly five digits.
pub fn is_voxceleb_id(name: &str) -> bool {
    name.len() == 7 && name.starts_with("id") && name[2..].bytes().all(|b| b.is_ascii_digit())
}

/// An audio file found by the walk.
struct Found {
    path: PathBuf,
    /// Path components relative to the root (last = file name).
    rel: Vec<String>,
}

/// List audio files below `root`, sorted by relative path.
fn walk(root: &Path, warnings: &mut Vec<String>) -> Result<Vec<Found>> {
    let mut found = Vec::new();
    let mut visited: HashSet<PathBuf> = HashSet::new();
    if let Ok(c) = fs::canonicalize(root) {
        visited.insert(c);
    }
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_path_buf(), Vec::new())];
    let mut loops = 0usize;
    while let Some((dir, rel)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if rel.is_empty() => return Err(Error::io(&dir, e)),
            Err(e) => {
                warnings.push(format!(
                    "skipped unreadable directory {}: {e}",
                    dir.display()
                ));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(format!("skipped an entry of {}: {e}", dir.display()));
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(mut ft) = entry.file_type() else {
                continue;
            };
            if ft.is_symlink() {
                match fs::metadata(&path) {
                    Ok(m) => ft = m.file_type(),
                    Err(_) => {
                        warnings.push(format!("skipped broken link {}", path.display()));
                        continue;
                    }
                }
            }
            let mut child = rel.clone();
            child.push(name);
            if ft.is_dir() {
                // Follow each real directory once: a link back up ends here.
                let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if visited.insert(real) {
                    stack.push((path, child));
                } else {
                    loops += 1;
                }
            } else if ft.is_file() && is_audio_file(&path) {
                found.push(Found { path, rel: child });
            }
        }
    }
    if loops > 0 {
        warnings.push(format!(
            "{loops} linked director{} already visited (a link loop or duplicate) not followed",
            if loops == 1 { "y" } else { "ies" }
        ));
    }
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(found)
}

/// The layout the files are in (rules in the module documentation).
fn detect(files: &[Found]) -> Layout {
    let mut top = files.iter().filter(|f| f.rel.len() == 1).peekable();
    if top.peek().is_some() && top.all(|f| fsdd_speaker(&f.rel[0]).is_some()) {
        return Layout::Fsdd;
    }
    if !files.is_empty()
        && files
            .iter()
            .all(|f| f.rel.len() == 3 && is_voxceleb_id(&f.rel[0]))
    {
        return Layout::VoxCeleb;
    }
    Layout::Folders
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Read `root` in `layout` (detected when `None`).
pub(crate) fn read(root: &Path, layout: Option<Layout>) -> Result<Dataset> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::Dataset {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut warnings = Vec::new();
    let files = walk(root, &mut warnings)?;
    let layout = layout.unwrap_or_else(|| detect(&files));
    let mut clips = Vec::with_capacity(files.len());
    let mut skipped = 0usize;
    for f in files {
        let rel = &f.rel;
        let (speaker, session) = match layout {
            Layout::Fsdd if rel.len() == 1 => match fsdd_speaker(&rel[0]) {
                Some(s) => (s.to_string(), None),
                None => {
                    skipped += 1;
                    continue;
                }
            },
            Layout::VoxCeleb if rel.len() == 3 => (rel[0].clone(), Some(rel[1].clone())),
            Layout::Folders if rel.len() == 2 => (rel[0].clone(), None),
            Layout::Folders if rel.len() >= 3 => (rel[0].clone(), Some(rel[1].clone())),
            _ => {
                skipped += 1;
                continue;
            }
        };
        clips.push(Clip::from_file(f.path, speaker, session));
    }
    if skipped > 0 {
        let what = match layout {
            Layout::Fsdd => "not named digit_speaker_index.ext directly in the directory",
            Layout::VoxCeleb => "not at speaker/video/clip depth",
            Layout::Folders => "directly in the root, outside any speaker folder",
        };
        warnings.push(format!(
            "{} ignored: {what} ({layout} layout)",
            plural(skipped, "audio file", "audio files")
        ));
    }
    clips.sort_by(|a, b| (&a.speaker, &a.session, &a.path).cmp(&(&b.speaker, &b.session, &b.path)));

    let mut names = BTreeMap::new();
    if layout == Layout::VoxCeleb {
        if let Some(meta) = find_vox_meta(root) {
            add_names(&mut names, &meta, read_vox_meta(&meta), &mut warnings);
        }
    }
    let names_file = root.join(NAMES_FILE);
    if names_file.is_file() {
        add_names(
            &mut names,
            &names_file,
            read_names_tsv(&names_file),
            &mut warnings,
        );
    }
    let present: HashSet<&str> = clips.iter().map(|c| c.speaker.as_str()).collect();
    names.retain(|id, _| present.contains(id.as_str()));

    if clips.is_empty() && skipped > 0 {
        return Err(Error::Dataset {
            path: root.to_path_buf(),
            reason: format!(
                "none of the {} fits the {layout} layout ({}); try another layout or auto-detection",
                plural(skipped, "audio file", "audio files"),
                layout.pattern()
            ),
        });
    }
    let data = Dataset {
        root: root.to_path_buf(),
        layout: Some(layout),
        clips,
        names,
        warnings,
    };
    data.check_usable()?;
    Ok(data)
}

/// Merge names read from `file`; a file that cannot be read or has malformed lines
/// is a warning (names are a nicety, never a reason to refuse a data set).
fn add_names(
    names: &mut BTreeMap<String, String>,
    file: &Path,
    read: Result<(BTreeMap<String, String>, usize)>,
    warnings: &mut Vec<String>,
) {
    match read {
        Ok((map, bad)) => {
            if bad > 0 {
                warnings.push(format!(
                    "{}: {} skipped",
                    file.display(),
                    plural(bad, "malformed line", "malformed lines")
                ));
            }
            names.extend(map);
        }
        Err(e) => warnings.push(format!("display names not read: {e}")),
    }
}

/// The first `vox1_meta.csv` in `root`, its parent or its grandparent.
pub fn find_vox_meta(root: &Path) -> Option<PathBuf> {
    root.ancestors()
        .take(3)
        .map(|d| d.join(VOX_META_FILE))
        .find(|p| p.is_file())
}

/// Read VoxCeleb1's `vox1_meta.csv`: TAB-separated, header
/// `VoxCeleb1 ID<TAB>VGGFace1 ID<TAB>Gender<TAB>Nationality<TAB>Set`. Returns
/// id → display name (the VGGFace1 name with underscores shown as spaces:
/// `A.J._Buckley` → `A.J. Buckley`) and the number of malformed lines skipped (fewer
/// than two fields, an empty id or name). Without a header the first two columns are
/// taken as id and name.
pub fn read_vox_meta(path: &Path) -> Result<(BTreeMap<String, String>, usize)> {
    let text = read_text(path)?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let (mut id_col, mut name_col) = (0, 1);
    if let Some(first) = lines.peek() {
        let cols: Vec<&str> = first.split('\t').map(str::trim).collect();
        let id = cols
            .iter()
            .position(|c| c.eq_ignore_ascii_case("VoxCeleb1 ID"));
        let name = cols
            .iter()
            .position(|c| c.eq_ignore_ascii_case("VGGFace1 ID"));
        if id.is_some() || name.is_some() {
            id_col = id.unwrap_or(0);
            name_col = name.unwrap_or(1);
            lines.next();
        }
    }
    Ok(parse_pairs(lines, id_col, name_col, true))
}

/// Read a `speakers.tsv` (`id<TAB>name` lines, an optional `id<TAB>name` header).
pub fn read_names_tsv(path: &Path) -> Result<(BTreeMap<String, String>, usize)> {
    let text = read_text(path)?;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| !l.trim().eq_ignore_ascii_case("id\tname"));
    Ok(parse_pairs(lines, 0, 1, false))
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_pairs<'a>(
    lines: impl Iterator<Item = &'a str>,
    id_col: usize,
    name_col: usize,
    underscores_to_spaces: bool,
) -> (BTreeMap<String, String>, usize) {
    let mut map = BTreeMap::new();
    let mut bad = 0;
    for line in lines {
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        match (cols.get(id_col), cols.get(name_col)) {
            (Some(id), Some(name)) if !id.is_empty() && !name.is_empty() => {
                let name = if underscores_to_spaces {
                    name.replace('_', " ")
                } else {
                    name.to_string()
                };
                map.insert(id.to_string(), name);
            }
            _ => bad += 1,
        }
    }
    (map, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsdd_names() {
        assert_eq!(fsdd_speaker("7_jackson_32.wav"), Some("jackson"));
        assert_eq!(fsdd_speaker("10_a-b_0.FLAC"), Some("a-b"));
        assert_eq!(fsdd_speaker("x_jackson_32.wav"), None);
        assert_eq!(fsdd_speaker("7_jackson_.wav"), None);
        assert_eq!(fsdd_speaker("7__3.wav"), None);
        assert_eq!(fsdd_speaker("7_jack son_3.wav"), None);
        assert_eq!(fsdd_speaker("7_jackson_3.txt"), None);
        assert_eq!(fsdd_speaker("15307110189-00-01.wav"), None);
    }

    #[test]
    fn vox_ids() {
        assert!(is_voxceleb_id("id10001"));
        assert!(!is_voxceleb_id("id1000"));
        assert!(!is_voxceleb_id("id100011"));
        assert!(!is_voxceleb_id("ix10001"));
    }

    #[test]
    fn layout_names_round_trip() {
        for l in Layout::ALL {
            assert_eq!(l.to_string().parse::<Layout>().unwrap(), l);
        }
        assert_eq!("VoxCeleb".parse::<Layout>().unwrap(), Layout::VoxCeleb);
        assert!("nope".parse::<Layout>().is_err());
    }
}
