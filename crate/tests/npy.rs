//! The `.npy` writers against files numpy.save wrote (`scripts/fixtures_npy.py`):
//! byte for byte, read back, and nothing half-written on failure.

use std::path::{Path, PathBuf};

use ndarray::{Array, Array1, Array2, Array3};
use speaker_similarity::npy::{header, read_npy, write_npy, NpyWriter};
use speaker_similarity::Error;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

fn numpy_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

/// Element i (C order) is i * 0.5 - 1, as in the fixture script.
fn floats(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5 - 1.0).collect()
}

#[test]
fn one_call_writes_what_numpy_writes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");

    let a = Array2::from_shape_vec((3, 4), floats(12)).unwrap();
    write_npy(&p, &a).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), numpy_bytes("f32_3x4.npy"));

    // A transposed view is written in C order, as numpy saves its contiguous copy.
    write_npy(&p, &a.t()).unwrap();
    assert_eq!(
        std::fs::read(&p).unwrap(),
        numpy_bytes("f32_4x3_transposed.npy")
    );

    write_npy(&p, &Array2::<f32>::zeros((0, 52))).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), numpy_bytes("f32_0x52.npy"));

    let ints: Array1<i64> = (0..5).map(|i| i / 2).collect();
    write_npy(&p, &ints).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), numpy_bytes("i64_5.npy"));

    let cube: Array3<f64> =
        Array::from_shape_vec((2, 3, 2), (0..12).map(|i| i as f64 * 0.5 - 1.0).collect()).unwrap();
    write_npy(&p, &cube).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), numpy_bytes("f64_2x3x2.npy"));

    // Only the target is left in the directory: the hidden file was renamed.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn rows_streamed_give_numpy_bytes_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("frames.npy");
    let values = floats(10_000);
    let mut w = NpyWriter::<f32>::create(&p, &[40]).unwrap();
    // Row by row and a block at once, as the export writes them.
    for r in values[..100 * 40].chunks(40) {
        w.write_row(r).unwrap();
    }
    let block = Array2::from_shape_vec((150, 40), values[100 * 40..].to_vec()).unwrap();
    w.write_rows(block.view()).unwrap();
    assert!(!p.exists(), "the target appears only when finished");
    assert_eq!(w.finish().unwrap(), 250);
    assert_eq!(std::fs::read(&p).unwrap(), numpy_bytes("f32_250x40.npy"));

    let back: Array2<f32> = read_npy(fixture("f32_250x40.npy")).unwrap();
    let ours: Array2<f32> = read_npy(&p).unwrap();
    assert_eq!(back, ours);

    // One number per row: a 1-d array.
    let q = dir.path().join("clip.npy");
    let mut w = NpyWriter::<i64>::create(&q, &[]).unwrap();
    for i in 0..5i64 {
        w.write_row(&[i / 2]).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(std::fs::read(&q).unwrap(), numpy_bytes("i64_5.npy"));

    // No rows at all: shape (0, 52).
    let e = dir.path().join("empty.npy");
    NpyWriter::<f32>::create(&e, &[52])
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(std::fs::read(&e).unwrap(), numpy_bytes("f32_0x52.npy"));
}

#[test]
fn an_unfinished_or_failing_writer_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clips.npy");
    std::fs::write(&p, b"old").unwrap();
    {
        let mut w = NpyWriter::<f32>::create(&p, &[3]).unwrap();
        w.write_row(&[1.0, 2.0, 3.0]).unwrap();
        // A row of the wrong length is a typed error, not a panic.
        let err = w.write_row(&[1.0]).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        let err = w
            .write_rows(Array2::<f32>::zeros((2, 4)).view())
            .unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        // Dropped here without finish (a kill, an error upstream).
    }
    assert_eq!(std::fs::read(&p).unwrap(), b"old");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "the hidden file is removed");

    // A directory that does not exist: an Io error naming the path.
    let missing = dir.path().join("no/such/dir/x.npy");
    let err = write_npy(&missing, &Array2::<f32>::zeros((1, 1))).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(NpyWriter::<f32>::create(&missing, &[1]).is_err());
}

#[test]
fn the_header_keeps_its_length_whatever_the_row_count() {
    for cols in [1usize, 52, 5120] {
        let first = header::<f32>(&[0, cols]).len();
        for rows in [1usize, 999, 10_000_000_000] {
            assert_eq!(header::<f32>(&[rows, cols]).len(), first);
        }
        assert_eq!(first % 64, 0);
    }
}
