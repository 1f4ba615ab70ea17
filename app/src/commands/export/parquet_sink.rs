//! `--format parquet`: one Parquet table per choice, written a batch of rows at a
//! time (1 MB batches, row groups of at most 16 MB of values), so memory stays
//! bounded however many frames a data set has and however wide the table is.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use ndarray::ArrayView2;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use speaker_similarity::{Error, Result};

use super::npy_sink::{write_speakers_csv, ClipTable, CLIP_TABLE};
use super::{ClipRow, Columns, Sink, SpeakerRow, What};

/// Values (rows x columns) buffered before they are handed to the Parquet writer as
/// one batch: 1 MB of float32, whatever the width of the table.
const BATCH_VALUES: usize = 1 << 18;
/// Values per row group at most (the writer keeps a row group's encoded pages until
/// it closes it): 16 MB of float32, at most 65 536 rows.
const ROW_GROUP_VALUES: usize = 4 << 20;
const ROW_GROUP_ROWS: usize = 65_536;

/// One column's buffered values.
enum Col {
    Str(Vec<Option<String>>),
    I64(Vec<Option<i64>>),
    F64(Vec<f64>),
    F32(Vec<f32>),
}

impl Col {
    fn new(t: &DataType) -> Col {
        match t {
            DataType::Utf8 => Col::Str(Vec::new()),
            DataType::Int64 => Col::I64(Vec::new()),
            DataType::Float64 => Col::F64(Vec::new()),
            _ => Col::F32(Vec::new()),
        }
    }

    fn take(&mut self) -> ArrayRef {
        match self {
            Col::Str(v) => Arc::new(StringArray::from(std::mem::take(v))),
            Col::I64(v) => Arc::new(Int64Array::from(std::mem::take(v))),
            Col::F64(v) => Arc::new(Float64Array::from(std::mem::take(v))),
            Col::F32(v) => Arc::new(Float32Array::from(std::mem::take(v))),
        }
    }
}

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

/// One Parquet file: its schema, buffered columns and writer.
struct Table {
    path: PathBuf,
    schema: Arc<Schema>,
    cols: Vec<Col>,
    rows: usize,
    /// Rows per batch.
    batch: usize,
    writer: ArrowWriter<File>,
}

impl Table {
    fn create(path: PathBuf, fields: Vec<Field>) -> Result<Table> {
        let width = fields.len().max(1);
        // Dictionary encoding only for the text columns: float features rarely
        // repeat, and a dictionary per column of a 5120-wide table costs memory.
        let mut props = WriterProperties::builder()
            .set_max_row_group_row_count(Some((ROW_GROUP_VALUES / width).clamp(1, ROW_GROUP_ROWS)))
            .set_dictionary_enabled(false);
        for f in &fields {
            if f.data_type() == &DataType::Utf8 {
                props =
                    props.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), true);
            }
        }
        let props = props.build();
        let batch = (BATCH_VALUES / width).max(1);
        let schema = Arc::new(Schema::new(fields));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| parquet_error(&path, e))?;
        let cols = schema
            .fields()
            .iter()
            .map(|f| Col::new(f.data_type()))
            .collect();
        Ok(Table {
            path,
            schema,
            cols,
            rows: 0,
            batch,
            writer,
        })
    }

    /// Count one row pushed into every column; write a batch when it is full.
    fn row_done(&mut self) -> Result<()> {
        self.rows += 1;
        if self.rows >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::take).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| parquet_error(&self.path, e))?;
        self.writer
            .write(&batch)
            .map_err(|e| parquet_error(&self.path, e))?;
        self.rows = 0;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.flush()?;
        let path = self.path.clone();
        let file = self
            .writer
            .into_inner()
            .map_err(|e| parquet_error(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))
    }

    fn str(&mut self, c: usize, v: Option<&str>) {
        if let Some(Col::Str(x)) = self.cols.get_mut(c) {
            x.push(v.map(str::to_string));
        }
    }

    fn i64(&mut self, c: usize, v: Option<i64>) {
        if let Some(Col::I64(x)) = self.cols.get_mut(c) {
            x.push(v);
        }
    }

    fn f64(&mut self, c: usize, v: f64) {
        if let Some(Col::F64(x)) = self.cols.get_mut(c) {
            x.push(v);
        }
    }

    /// Values of the f32 columns `from..from + values.len()`.
    fn f32s(&mut self, from: usize, values: &[f32]) -> Result<()> {
        if from + values.len() != self.cols.len() {
            return Err(Error::shape(
                format!("a row of {}", self.path.display()),
                self.cols.len() - from,
                values.len(),
            ));
        }
        for (c, &v) in values.iter().enumerate() {
            if let Some(Col::F32(x)) = self.cols.get_mut(from + c) {
                x.push(v);
            }
        }
        Ok(())
    }
}

fn f32_fields(names: &[String]) -> impl Iterator<Item = Field> + '_ {
    names
        .iter()
        .map(|n| Field::new(n, DataType::Float32, false))
}

/// The Parquet writer of one export.
pub struct ParquetSink {
    dir: PathBuf,
    table: ClipTable,
    clips: Option<Table>,
    frames: Option<Table>,
    embeddings: Option<Table>,
    rows: i64,
    speakers_written: bool,
}

impl ParquetSink {
    /// Open every table `columns.what` asks for in `dir`.
    pub fn create(dir: &Path, columns: &Columns) -> Result<Self> {
        let clips = if columns.wants(What::Clips) {
            let mut fields: Vec<Field> = CLIP_TABLE
                .iter()
                .map(|&n| match n {
                    "duration" => Field::new(n, DataType::Float64, false),
                    "session" => Field::new(n, DataType::Utf8, true),
                    _ => Field::new(n, DataType::Utf8, false),
                })
                .collect();
            fields.extend(f32_fields(&columns.clip));
            Some(Table::create(dir.join("clips.parquet"), fields)?)
        } else {
            None
        };
        let frames = if columns.wants(What::Frames) {
            let mut fields = vec![Field::new("clip", DataType::Int64, false)];
            fields.extend(f32_fields(&columns.frame));
            Some(Table::create(dir.join("frames.parquet"), fields)?)
        } else {
            None
        };
        let embeddings = if columns.wants(What::Embeddings) {
            let names: Vec<String> = (0..columns.embedding_dim)
                .map(|i| format!("e{i}"))
                .collect();
            let mut fields = vec![
                Field::new("level", DataType::Utf8, false),
                Field::new("clip", DataType::Int64, true),
                Field::new("speaker", DataType::Utf8, false),
            ];
            fields.extend(f32_fields(&names));
            Some(Table::create(dir.join("embeddings.parquet"), fields)?)
        } else {
            None
        };
        Ok(ParquetSink {
            dir: dir.to_path_buf(),
            table: ClipTable::create(dir)?,
            clips,
            frames,
            embeddings,
            rows: 0,
            speakers_written: false,
        })
    }
}

impl Sink for ParquetSink {
    fn clip(
        &mut self,
        row: &ClipRow<'_>,
        vector: &[f32],
        frames: Option<ArrayView2<'_, f32>>,
        embedding: Option<&[f32]>,
    ) -> Result<()> {
        self.table.row(row)?;
        if let Some(t) = &mut self.clips {
            t.str(0, Some(&row.path));
            t.str(1, Some(row.speaker));
            t.str(2, (!row.session.is_empty()).then_some(row.session));
            t.str(3, Some(row.split));
            t.f64(4, row.duration);
            t.f32s(5, vector)?;
            t.row_done()?;
        }
        if let (Some(t), Some(f)) = (&mut self.frames, frames) {
            for r in f.rows() {
                t.i64(0, Some(self.rows));
                t.f32s(1, &r.to_vec())?;
                t.row_done()?;
            }
        }
        if let Some(t) = &mut self.embeddings {
            let e = embedding.ok_or_else(|| Error::param("embedding", "missing for a clip"))?;
            t.str(0, Some("clip"));
            t.i64(1, Some(self.rows));
            t.str(2, Some(row.speaker));
            t.f32s(3, e)?;
            t.row_done()?;
        }
        self.rows += 1;
        Ok(())
    }

    fn speakers(&mut self, speakers: &[SpeakerRow]) -> Result<()> {
        if let Some(t) = &mut self.embeddings {
            for s in speakers {
                t.str(0, Some("speaker"));
                t.i64(1, None);
                t.str(2, Some(&s.speaker));
                t.f32s(3, &s.embedding)?;
                t.row_done()?;
            }
        }
        write_speakers_csv(&self.dir, speakers)?;
        self.speakers_written = true;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<String>> {
        let mut files = vec!["clips.csv".to_string()];
        self.table.finish()?;
        for (t, name) in [
            (self.clips, "clips.parquet"),
            (self.frames, "frames.parquet"),
            (self.embeddings, "embeddings.parquet"),
        ] {
            if let Some(t) = t {
                t.finish()?;
                files.push(name.into());
            }
        }
        if self.speakers_written {
            files.push("speakers.csv".into());
        }
        Ok(files)
    }
}
