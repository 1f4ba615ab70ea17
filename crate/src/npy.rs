//! NumPy `.npy` files from the crate's matrices (crate feature `npy`).
//!
//! - [`write_npy`] writes any `ndarray` array (clip vectors, frame features,
//!   embeddings) in one call, for instance from a notebook cell, to be read with
//!   `numpy.load`. [`read_npy`] reads one back.
//! - [`NpyWriter`] writes a matrix row by row, when the number of rows is not known
//!   in advance and the rows do not all fit in memory (every frame of a data set):
//!   the header is written first with room for any row count and rewritten with the
//!   final shape at [`NpyWriter::finish`].
//!
//! The bytes are the ones `numpy.save` writes for the same array (format version
//! 1.0, header padded to 64 bytes with numpy's room for the first axis to grow), so
//! a file can be compared byte for byte with numpy's (`crate/tests/npy.rs` does).
//! Element types and their encoding come from [`ndarray_npy`]: `f32` is `'<f4'`,
//! `f64` `'<f8'`, `i64` `'<i8'`, `u32` `'<u4'`, and so on.
//!
//! Files are written beside their target (`.NAME.tmp-PID-N`) and renamed into
//! place when complete: a process killed while writing leaves the earlier file (or
//! none), never half a file.
//!
//! ```
//! use speaker_similarity::ndarray::array;
//! use speaker_similarity::npy::{read_npy, write_npy};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("npy-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let clips = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
//! write_npy(dir.join("clips.npy"), &clips)?; // numpy.load("clips.npy") in Python
//! let back: speaker_similarity::ndarray::Array2<f32> = read_npy(dir.join("clips.npy"))?;
//! assert_eq!(back, clips);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayBase, ArrayView2, Data, Dimension};
pub use ndarray_npy::{read_npy, ReadNpyError, ReadableElement, WritableElement};

use crate::error::{Error, Result};

/// The `.npy` magic string.
const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy pads the header so the data starts at a multiple of this.
const ALIGN: usize = 64;
/// numpy leaves room in the header for a first axis of this many digits, so the
/// shape can be rewritten in place as rows are appended (`GROWTH_AXIS_MAX_DIGITS`).
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// The header `numpy.save` writes for a C-ordered array of `A` with `shape`.
///
/// Its length does not depend on the first axis (numpy's room for it to grow), so
/// a header written for 0 rows can be replaced by the final one in place.
///
/// ```
/// use speaker_similarity::npy::header;
/// let h = header::<f32>(&[3, 52]);
/// assert_eq!(h.len() % 64, 0);
/// assert_eq!(h.len(), header::<f32>(&[123_456_789, 52]).len());
/// assert!(String::from_utf8_lossy(&h).contains("'shape': (3, 52)"));
/// ```
pub fn header<A: WritableElement>(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        0 => "()".to_string(),
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!(
        "{{'descr': {}, 'fortran_order': False, 'shape': {tuple}, }}",
        A::type_descriptor()
    );
    if let Some(first) = dims.first() {
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.len())));
    }
    // As numpy's `_wrap_header`: 1 to 64 spaces, then a newline, so that magic +
    // version + length + dictionary + padding is a multiple of 64; version 2.0
    // (a 4-byte length) only when the header does not fit 2 bytes.
    let wrap = |len_bytes: usize| {
        let hlen = dict.len() + 1;
        let pad = ALIGN - (MAGIC.len() + 2 + len_bytes + hlen) % ALIGN;
        (hlen + pad, pad)
    };
    let (total, pad, version) = match wrap(2) {
        (t, p) if t <= u16::MAX as usize => (t, p, 1u8),
        _ => {
            let (t, p) = wrap(4);
            (t, p, 2u8)
        }
    };
    let mut out = Vec::with_capacity(MAGIC.len() + 6 + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(total as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(total as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

/// A hidden file beside `path`, unique to this process and call.
fn temp_beside(path: &Path) -> Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| Error::param("path", format!("{} has no file name", path.display())))?
        .to_string_lossy()
        .to_string();
    let n = N.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id())))
}

fn data_error(path: &Path, e: ndarray_npy::WriteDataError) -> Error {
    match e {
        ndarray_npy::WriteDataError::Io(e) => Error::io(path, e),
        other => Error::io(path, std::io::Error::other(other.to_string())),
    }
}

/// Write `array` to the `.npy` file `path` (replaced whole if it exists), in C
/// order whatever the array's memory layout: `numpy.load(path)` gives the same
/// shape and values. The file appears complete or not at all.
///
/// Errors: [`Error::Io`] when the file cannot be written.
pub fn write_npy<A, S, D>(path: impl AsRef<Path>, array: &ArrayBase<S, D>) -> Result<()>
where
    A: WritableElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    let path = path.as_ref();
    let tmp = temp_beside(path)?;
    let result = (|| -> Result<()> {
        let io = |e| Error::io(&tmp, e);
        let file = File::create(&tmp).map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header::<A>(array.shape())).map_err(io)?;
        match array.as_slice() {
            Some(s) => A::write_slice(s, &mut out).map_err(|e| data_error(&tmp, e))?,
            None => {
                for v in array.iter() {
                    v.write(&mut out).map_err(|e| data_error(&tmp, e))?;
                }
            }
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A `.npy` matrix written row by row, for data that does not fit in memory.
///
/// Every row has the shape given to [`create`](Self::create) (`&[52]` for clip
/// vectors, `&[]` for one number per row); the file's shape is `(rows, ...)`. Rows
/// go to a hidden file beside the target; [`finish`](Self::finish) writes the final
/// shape into the header and renames the file into place. Dropped unfinished, the
/// writer removes its hidden file and the target is left as it was.
///
/// ```
/// use speaker_similarity::npy::{read_npy, NpyWriter};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("npy-writer-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut frames = NpyWriter::<f32>::create(dir.join("frames.npy"), &[2])?;
/// for i in 0..1000 {
///     frames.write_row(&[i as f32, -(i as f32)])?;
/// }
/// assert_eq!(frames.finish()?, 1000);
/// let back: speaker_similarity::ndarray::Array2<f32> = read_npy(dir.join("frames.npy"))?;
/// assert_eq!(back.dim(), (1000, 2));
/// assert_eq!(back[[999, 1]], -999.0);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct NpyWriter<A: WritableElement> {
    out: Option<BufWriter<File>>,
    path: PathBuf,
    tmp: PathBuf,
    row_shape: Vec<usize>,
    row_len: usize,
    rows: usize,
    header_len: usize,
    _element: PhantomData<A>,
}

impl<A: WritableElement> NpyWriter<A> {
    /// Start writing the `.npy` file `path`, whose rows have shape `row_shape`.
    ///
    /// Errors: [`Error::Io`] when the hidden file beside `path` cannot be created.
    pub fn create(path: impl AsRef<Path>, row_shape: &[usize]) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let tmp = temp_beside(&path)?;
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut shape = vec![0];
        shape.extend_from_slice(row_shape);
        let h = header::<A>(&shape);
        let written = out.write_all(&h);
        let w = NpyWriter {
            out: Some(out),
            path,
            tmp,
            row_shape: row_shape.to_vec(),
            row_len: row_shape.iter().product(),
            rows: 0,
            header_len: h.len(),
            _element: PhantomData,
        };
        written.map_err(|e| Error::io(&w.tmp, e))?;
        Ok(w)
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The target file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one row: `row_shape`'s product of values, in C order.
    ///
    /// Errors: [`Error::Shape`] for a row of another length; [`Error::Io`].
    pub fn write_row(&mut self, row: &[A]) -> Result<()> {
        if row.len() != self.row_len {
            return Err(Error::shape(
                format!("a row of {}", self.path.display()),
                self.row_len,
                row.len(),
            ));
        }
        let tmp = &self.tmp;
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::param("writer", "already finished"))?;
        A::write_slice(row, out).map_err(|e| data_error(tmp, e))?;
        self.rows += 1;
        Ok(())
    }

    /// Append every row of `rows` (for rows of one dimension, `row_shape = [n]`).
    ///
    /// Errors: [`Error::Shape`] when the matrix has another number of columns.
    pub fn write_rows(&mut self, rows: ArrayView2<'_, A>) -> Result<()> {
        if self.row_shape.len() != 1 || rows.ncols() != self.row_len {
            return Err(Error::shape(
                format!("the rows of {}", self.path.display()),
                format_args!("{:?}", self.row_shape),
                format_args!("[{}]", rows.ncols()),
            ));
        }
        if let Some(s) = rows.as_slice() {
            let tmp = &self.tmp;
            let out = self
                .out
                .as_mut()
                .ok_or_else(|| Error::param("writer", "already finished"))?;
            A::write_slice(s, out).map_err(|e| data_error(tmp, e))?;
            self.rows += rows.nrows();
            return Ok(());
        }
        let tmp = &self.tmp;
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::param("writer", "already finished"))?;
        for v in rows.iter() {
            v.write(&mut *out).map_err(|e| data_error(tmp, e))?;
        }
        self.rows += rows.nrows();
        Ok(())
    }

    /// Write the final shape into the header, flush the file to disk and rename it
    /// into place; returns the number of rows.
    ///
    /// Errors: [`Error::Io`].
    pub fn finish(mut self) -> Result<usize> {
        let mut out = self
            .out
            .take()
            .ok_or_else(|| Error::param("writer", "already finished"))?;
        let tmp = self.tmp.clone();
        let io = |e| Error::io(&tmp, e);
        let shape: Vec<usize> = std::iter::once(self.rows)
            .chain(self.row_shape.iter().copied())
            .collect();
        let h = header::<A>(&shape);
        let result = (|| -> Result<()> {
            if h.len() != self.header_len {
                // Only with a first axis of more than 21 digits.
                return Err(Error::shape(
                    "the .npy header",
                    self.header_len,
                    format_args!("{} bytes", h.len()),
                ));
            }
            out.flush().map_err(io)?;
            let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.write_all(&h).map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map(|_| self.rows)
    }
}

impl<A: WritableElement> Drop for NpyWriter<A> {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
