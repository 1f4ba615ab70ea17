"""`speaker-similarity export` read back in Python: numpy, pandas and pyarrow load the
files, and the values are compared with what the tool and the library say elsewhere:

- clip vectors with `speaker-similarity features DIR --json` (1e-6 relative);
- frame features and supervector embeddings with the library's own functions
  (`crate/examples/export_reference.rs`: `pipeline::extract`, the GMM-UBM's
  `SpeakerEmbedding::embed`);
- the UBM trained by `export` without `--model` with the one `train --all` trains;
- npy and parquet with each other, shards with the whole export;
- bad arguments with clear messages and nothing written.

On the synthetic corpus (`speaker-similarity synth`) and on a few speakers of
../shared/datasets/fsdd when it is there.
"""
import json
import os
import pathlib
import re
import subprocess

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(
    os.environ.get("SPEAKER_SIMILARITY_BIN", ROOT / "target" / "release" / "speaker-similarity")
)
# Built by `cargo test --workspace --no-run` (cargo builds examples with the tests).
REFERENCE = pathlib.Path(
    os.environ.get("EXPORT_REFERENCE_BIN", BIN.parent / "examples" / "export_reference")
)
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def run(*args, check=True):
    p = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=900)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stderr}")
    return p


def reference(paths, model=None):
    if not REFERENCE.exists():
        pytest.fail(f"{REFERENCE} is missing: run `cargo test --workspace --no-run` first")
    args = [str(REFERENCE)] + (["--model", str(model)] if model else []) + [str(p) for p in paths]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600, check=True)
    return {c["path"]: c for c in json.loads(p.stdout)["clips"]}


def features_json(data):
    out = json.loads(run("features", data, "--json").stdout)
    return out["columns"], {c["path"]: np.array(c["clip"], dtype=np.float64) for c in out["clips"]}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth") / "corpus"
    run("synth", d, "--speakers", 4, "--clips", 6)
    return d


@pytest.fixture(scope="module")
def model(synth, tmp_path_factory):
    """A GMM-UBM trained on every clip of the corpus."""
    m = tmp_path_factory.mktemp("model") / "m"
    run("train", "--data", synth, "--out", m, "--all", "--models", "gmm-ubm")
    return m


@pytest.fixture(scope="module")
def fsdd_few(tmp_path_factory):
    """Two fsdd speakers x 15 clips, linked into a folder of their own."""
    candidates = [os.environ.get("SPEAKER_SHARED_DATASETS")]
    candidates += [str(ROOT.parent / "shared" / "datasets"), "/work/shared/datasets"]
    found = [pathlib.Path(c) / "fsdd" for c in candidates if c and (pathlib.Path(c) / "fsdd").is_dir()]
    if not found:
        pytest.skip("../shared/datasets/fsdd is not there")
    src = found[0]
    d = tmp_path_factory.mktemp("fsdd") / "few"
    d.mkdir()
    for f in sorted(src.glob("*.wav")):
        m = FSDD_NAME.match(f.name)
        if m and m.group(2) in ("jackson", "theo") and int(m.group(3)) < 3 and int(m.group(1)) < 5:
            (d / f.name).symlink_to(f)
    assert len(list(d.iterdir())) == 30
    return d


def export(data, out, *extra):
    run("export", "--data", data, "--out", out, *extra)
    return json.loads((out / "export.json").read_text())


def check_clip_vectors(data, out):
    table = pd.read_csv(out / "clips.csv", keep_default_na=False)
    assert list(table.columns) == ["path", "speaker", "session", "split", "duration"]
    x = np.load(out / "clips.npy")
    assert x.dtype == np.float32 and x.shape == (len(table), 52)
    columns, expected = features_json(data)
    assert sorted(expected) == sorted(table.path), "every clip, each once"
    for row, path in enumerate(table.path):
        np.testing.assert_allclose(x[row], expected[path], rtol=1e-6, atol=1e-7, err_msg=path)
    assert set(table.split) <= {"train", "test"}
    assert (table.duration > 0).all()
    return table, x, columns


def test_clip_vectors_equal_features_json(synth, tmp_path):
    out = tmp_path / "x"
    manifest = export(synth, out)
    assert manifest["what"] == ["clips"] and manifest["format"] == "npy"
    table, x, _ = check_clip_vectors(synth, out)
    assert sorted(p.name for p in out.iterdir()) == ["clips.csv", "clips.npy", "export.json"]
    # The default honest split: about 30 % of each speaker's clips on the test side.
    for _, g in table.groupby("speaker"):
        assert (g.split == "test").sum() == round(0.3 * len(g))
    assert manifest["clips"] == len(table) == 24


def test_frames_and_embeddings_equal_the_library(synth, model, tmp_path):
    out = tmp_path / "npy"
    manifest = export(synth, out, "--model", model, "--what", "clips,frames,embeddings")
    table = pd.read_csv(out / "clips.csv", keep_default_na=False)
    frames = np.load(out / "frames.npy")
    frame_clip = np.load(out / "frame_clip.npy")
    emb = np.load(out / "clip_embeddings.npy")
    spk = np.load(out / "speaker_embeddings.npy")
    speakers = pd.read_csv(out / "speakers.csv")
    assert frames.dtype == np.float32 and frame_clip.dtype == np.int64
    assert frames.shape == (manifest["frames"], len(manifest["frame_columns"]))
    assert frame_clip.shape == (len(frames),)
    assert (np.diff(frame_clip) >= 0).all() and set(frame_clip) == set(range(len(table)))
    assert emb.shape == (len(table), manifest["embedding_dim"]) == (len(table), 128 * 40)
    assert manifest["ubm"] == "the model's"

    # Every clip against the library's own functions.
    ref = reference(table.path, model=model)
    for row, path in enumerate(table.path):
        r = ref[path]
        mine = frames[frame_clip == row]
        theirs = np.array(r["frames"], dtype=np.float32)
        assert mine.shape == theirs.shape, path
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7, err_msg=path)
        np.testing.assert_allclose(emb[row], r["embedding"], rtol=1e-6, atol=1e-7, err_msg=path)
    # A speaker's embedding is the mean of its clips'.
    assert list(speakers.speaker) == sorted(set(table.speaker))
    for i, s in enumerate(speakers.speaker):
        mine = emb[(table.speaker == s).to_numpy()]
        assert speakers.clips[i] == len(mine)
        np.testing.assert_allclose(spk[i], mine.mean(axis=0), rtol=1e-5, atol=1e-6)

    # The same export as Parquet: the same numbers, named columns.
    pout = tmp_path / "parquet"
    export(synth, pout, "--model", model, "--what", "clips,frames,embeddings", "--format", "parquet")
    clips = pd.read_parquet(pout / "clips.parquet")
    names = manifest["clip_columns"]
    assert list(clips.columns) == ["path", "speaker", "session", "split", "duration", *names]
    assert names[0] == "mfcc_0" and len(names) == 52
    assert list(clips.path) == list(table.path)
    np.testing.assert_array_equal(clips[names].to_numpy(np.float32), np.load(out / "clips.npy"))
    np.testing.assert_array_equal(clips.duration.to_numpy(), table.duration.to_numpy())
    f = pq.read_table(pout / "frames.parquet")
    assert f.schema.field("clip").type == "int64" and f.schema.field("mfcc_0").type == "float"
    fdf = f.to_pandas()
    np.testing.assert_array_equal(fdf["clip"].to_numpy(), frame_clip)
    np.testing.assert_array_equal(fdf[manifest["frame_columns"]].to_numpy(np.float32), frames)
    e = pd.read_parquet(pout / "embeddings.parquet")
    ecols = [f"e{i}" for i in range(emb.shape[1])]
    per_clip = e[e.level == "clip"]
    np.testing.assert_array_equal(per_clip["clip"].to_numpy(), np.arange(len(table)))
    np.testing.assert_array_equal(per_clip[ecols].to_numpy(np.float32), emb)
    per_spk = e[e.level == "speaker"]
    assert list(per_spk.speaker) == list(speakers.speaker) and per_spk["clip"].isna().all()
    np.testing.assert_array_equal(per_spk[ecols].to_numpy(np.float32), spk)


def test_ubm_trained_on_the_data_equals_trains(synth, model, tmp_path):
    """Without --model, export trains the UBM `train --all` trains on the same clips."""
    a, b = tmp_path / "own", tmp_path / "model"
    manifest = export(synth, a, "--what", "embeddings")
    assert manifest["ubm"] == "trained on the data set"
    export(synth, b, "--what", "embeddings", "--model", model)
    own, theirs = np.load(a / "clip_embeddings.npy"), np.load(b / "clip_embeddings.npy")
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(own, theirs, rtol=1e-4, atol=1e-5 * scale)


def test_shards_concatenate_to_the_whole_export(synth, tmp_path):
    whole = tmp_path / "whole"
    export(synth, whole, "--what", "clips,frames")
    table = pd.read_csv(whole / "clips.csv", keep_default_na=False)
    x, frames, fc = (np.load(whole / n) for n in ("clips.npy", "frames.npy", "frame_clip.npy"))
    parts, offset, speakers = [], 0, []
    for k in range(3):
        out = tmp_path / f"shard{k}"
        m = export(synth, out, "--what", "clips,frames", "--shard", f"{k}/3")
        assert m["shard"] == f"{k}/3"
        t = pd.read_csv(out / "clips.csv", keep_default_na=False)
        speakers.append(set(t.speaker))
        parts.append((t, np.load(out / "clips.npy"), np.load(out / "frames.npy"),
                      np.load(out / "frame_clip.npy") + offset))
        offset += len(t)
    assert set.union(*speakers) == set(table.speaker)
    assert sum(len(s) for s in speakers) == len(set(table.speaker)), "disjoint by speaker"
    # The documented recipe: concatenate in shard order, frame_clip shifted by the
    # clips of the shards before.
    t = pd.concat([p[0] for p in parts], ignore_index=True)
    cx = np.concatenate([p[1] for p in parts])
    cf = np.concatenate([p[2] for p in parts])
    cfc = np.concatenate([p[3] for p in parts])
    order = {p: i for i, p in enumerate(table.path)}
    perm = np.array([order[p] for p in t.path])
    np.testing.assert_array_equal(cx, x[perm])
    assert list(t.split) == list(table.split[perm])
    for row, whole_row in enumerate(perm):
        np.testing.assert_array_equal(cf[cfc == row], frames[fc == whole_row])


def test_fsdd_round_trip(fsdd_few, tmp_path):
    out = tmp_path / "x"
    m = export(fsdd_few, out, "--what", "clips,frames,embeddings")
    table, _, _ = check_clip_vectors(fsdd_few, out)
    frames, fc = np.load(out / "frames.npy"), np.load(out / "frame_clip.npy")
    ref = reference(table.path[:5])
    for row, path in enumerate(table.path[:5]):
        np.testing.assert_allclose(
            frames[fc == row], np.array(ref[path]["frames"], dtype=np.float32), rtol=1e-6, atol=1e-7
        )
    emb = np.load(out / "clip_embeddings.npy")
    assert np.isfinite(emb).all() and emb.shape == (30, m["embedding_dim"])
    # The UBM export trains equals the one `train --all` trains on the same clips, and
    # the embeddings equal the library's embedding of that model.
    model = tmp_path / "m"
    run("train", "--data", fsdd_few, "--out", model, "--all", "--models", "gmm-ubm")
    with_model = tmp_path / "with_model"
    export(fsdd_few, with_model, "--what", "embeddings", "--model", model)
    theirs = np.load(with_model / "clip_embeddings.npy")
    np.testing.assert_allclose(emb, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())
    ref = reference(table.path[:5], model=model)
    for row, path in enumerate(table.path[:5]):
        np.testing.assert_allclose(theirs[row], ref[path]["embedding"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--what", "clips,voices"], "invalid value 'voices'"),
        (["--format", "csv"], "invalid value 'csv'"),
        (["--shard", "3/3"], "K runs from 0 to N-1"),
        (["--shard", "1"], "is not K/N"),
    ],
)
def test_bad_arguments_are_refused(synth, tmp_path, args, message):
    out = tmp_path / "x"
    p = run("export", "--data", synth, "--out", out, *args, check=False)
    assert p.returncode != 0 and message in p.stderr, p.stderr
    assert not out.exists()


def test_bad_directories_are_refused(synth, tmp_path):
    out = tmp_path / "x"
    p = run("export", "--data", tmp_path / "missing", "--out", out, check=False)
    assert p.returncode != 0 and "missing" in p.stderr and "panicked" not in p.stderr
    not_model = tmp_path / "not_model"
    not_model.mkdir()
    p = run("export", "--data", synth, "--out", out, "--model", not_model, check=False)
    assert p.returncode != 0 and "not a model directory" in p.stderr, p.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    p = run("export", "--data", synth, "--out", busy, check=False)
    assert p.returncode != 0 and "not an export" in p.stderr, p.stderr
    assert (busy / "keep.txt").read_text() == "mine"
    assert not out.exists()
    # An earlier export is replaced whole; nothing is left beside it.
    export(synth, out)
    export(synth, out, "--what", "frames")
    assert sorted(p.name for p in out.iterdir()) == [
        "clips.csv", "export.json", "frame_clip.npy", "frames.npy"
    ]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
