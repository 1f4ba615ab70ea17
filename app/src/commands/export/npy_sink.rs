//! `--format npy`: `.npy` matrices (streamed row by row with the library's
//! [`NpyWriter`]) and CSV tables.

use std::path::Path;

use ndarray::{Array2, ArrayView2};
use speaker_similarity::npy::{write_npy, NpyWriter};
use speaker_similarity::{Error, Result};

use super::csv::{field, CsvWriter};
use super::{ClipRow, Columns, Sink, SpeakerRow, What};

/// The clip table's columns (`clips.csv`, and the first columns of `clips.parquet`).
pub const CLIP_TABLE: [&str; 5] = ["path", "speaker", "session", "split", "duration"];

/// The clip table, shared by both formats.
pub struct ClipTable(CsvWriter);

impl ClipTable {
    /// Create `dir/clips.csv`.
    pub fn create(dir: &Path) -> Result<Self> {
        Ok(ClipTable(CsvWriter::create(
            &dir.join("clips.csv"),
            &CLIP_TABLE,
        )?))
    }

    /// One row.
    pub fn row(&mut self, r: &ClipRow<'_>) -> Result<()> {
        self.0.line(&[
            field(&r.path),
            field(r.speaker),
            field(r.session),
            r.split.to_string(),
            format!("{}", r.duration),
        ])
    }

    /// Flush.
    pub fn finish(self) -> Result<()> {
        self.0.finish()
    }
}

/// Write `dir/speakers.csv`: speaker, name, clips (the rows of the speaker
/// embeddings, in order).
pub fn write_speakers_csv(dir: &Path, speakers: &[SpeakerRow]) -> Result<()> {
    let mut w = CsvWriter::create(&dir.join("speakers.csv"), &["speaker", "name", "clips"])?;
    for s in speakers {
        w.line(&[field(&s.speaker), field(&s.name), s.clips.to_string()])?;
    }
    w.finish()
}

/// The `.npy` writer of one export.
pub struct NpySink {
    dir: std::path::PathBuf,
    table: ClipTable,
    clips: Option<NpyWriter<f32>>,
    frames: Option<(NpyWriter<f32>, NpyWriter<i64>)>,
    embeddings: Option<NpyWriter<f32>>,
    speakers_written: bool,
    rows: i64,
}

impl NpySink {
    /// Open every file `columns.what` asks for in `dir`.
    pub fn create(dir: &Path, columns: &Columns) -> Result<Self> {
        Ok(NpySink {
            dir: dir.to_path_buf(),
            table: ClipTable::create(dir)?,
            clips: columns
                .wants(What::Clips)
                .then(|| NpyWriter::create(dir.join("clips.npy"), &[columns.clip.len()]))
                .transpose()?,
            frames: if columns.wants(What::Frames) {
                Some((
                    NpyWriter::create(dir.join("frames.npy"), &[columns.frame.len()])?,
                    NpyWriter::create(dir.join("frame_clip.npy"), &[])?,
                ))
            } else {
                None
            },
            embeddings: columns
                .wants(What::Embeddings)
                .then(|| {
                    NpyWriter::create(dir.join("clip_embeddings.npy"), &[columns.embedding_dim])
                })
                .transpose()?,
            speakers_written: false,
            rows: 0,
        })
    }
}

impl Sink for NpySink {
    fn clip(
        &mut self,
        row: &ClipRow<'_>,
        vector: &[f32],
        frames: Option<ArrayView2<'_, f32>>,
        embedding: Option<&[f32]>,
    ) -> Result<()> {
        self.table.row(row)?;
        if let Some(w) = &mut self.clips {
            w.write_row(vector)?;
        }
        if let (Some((fw, cw)), Some(f)) = (&mut self.frames, frames) {
            fw.write_rows(f)?;
            for _ in 0..f.nrows() {
                cw.write_row(&[self.rows])?;
            }
        }
        if let Some(w) = &mut self.embeddings {
            let e = embedding.ok_or_else(|| Error::param("embedding", "missing for a clip"))?;
            w.write_row(e)?;
        }
        self.rows += 1;
        Ok(())
    }

    fn speakers(&mut self, speakers: &[SpeakerRow]) -> Result<()> {
        let dim = speakers.first().map_or(0, |s| s.embedding.len());
        let mut m = Array2::<f32>::zeros((speakers.len(), dim));
        for (mut r, s) in m.rows_mut().into_iter().zip(speakers) {
            if s.embedding.len() != dim {
                return Err(Error::shape("speaker embeddings", dim, s.embedding.len()));
            }
            r.assign(&ndarray::ArrayView1::from(&s.embedding));
        }
        // Small (speakers x dim): the library's one-call writer.
        write_npy(self.dir.join("speaker_embeddings.npy"), &m)?;
        write_speakers_csv(&self.dir, speakers)?;
        self.speakers_written = true;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<String>> {
        let mut files = vec!["clips.csv".to_string()];
        self.table.finish()?;
        if let Some(w) = self.clips {
            w.finish()?;
            files.push("clips.npy".into());
        }
        if let Some((fw, cw)) = self.frames {
            fw.finish()?;
            cw.finish()?;
            files.push("frames.npy".into());
            files.push("frame_clip.npy".into());
        }
        if let Some(w) = self.embeddings {
            w.finish()?;
            files.push("clip_embeddings.npy".into());
        }
        if self.speakers_written {
            files.push("speaker_embeddings.npy".into());
            files.push("speakers.csv".into());
        }
        Ok(files)
    }
}
