"""Reference fixtures for crate/tests/audio.rs.

Writes, deterministically:
  crate/tests/fixtures/audio/*.{flac,ogg,mp3}  small encoded test tones (libsndfile via soundfile),
  crate/tests/fixtures/audio_resample.json     librosa.resample (soxr_hq, librosa's default) outputs.

The test tone is  y(t) = 0.5 sin(2 pi 440 t) + 0.25 sin(2 pi 1234.5 t),  which the Rust tests
recompute, so encoded files can be checked sample by sample (FLAC) or by SNR (MP3, Vorbis).

Run:  .venv/bin/python scripts/fixtures_audio.py   (see requirements-ref.txt for the pins)
"""
import json
import pathlib

import librosa
import numpy as np
import soundfile as sf

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crate" / "tests" / "fixtures"


def tone(sr, seconds, freqs=((0.5, 440.0), (0.25, 1234.5))):
    t = np.arange(int(round(sr * seconds)), dtype=np.float64) / sr
    return sum(a * np.sin(2 * np.pi * f * t) for a, f in freqs)


def encoded():
    d = OUT / "audio"
    d.mkdir(parents=True, exist_ok=True)
    y = tone(16000, 0.5)
    sf.write(d / "tone_16k_mono.flac", y, 16000, subtype="PCM_16")
    sf.write(d / "tone_16k_mono.ogg", y, 16000, subtype="VORBIS")
    sf.write(d / "tone_16k_mono.mp3", y, 16000, subtype="MPEG_LAYER_III")
    # Stereo 44.1 kHz FLAC, 24-bit: left = tone, right = -tone/2 (mixdown = tone/4).
    y44 = tone(44100, 0.25)
    sf.write(d / "tone_44k_stereo24.flac", np.stack([y44, -0.5 * y44], axis=1), 44100, subtype="PCM_24")


def resample_cases():
    cases = []
    for sr_in, sr_out, freqs in [
        (44100, 16000, ((0.5, 440.0), (0.25, 1234.5))),
        (8000, 16000, ((0.5, 440.0), (0.25, 1234.5))),
        (48000, 22050, ((0.5, 440.0), (0.25, 1234.5))),
        (22050, 16000, ((0.5, 440.0), (0.25, 1234.5))),
        # 6 kHz lies above the 4 kHz Nyquist of the output: it must be filtered out.
        (16000, 8000, ((0.5, 440.0), (0.25, 6000.0))),
    ]:
        y = tone(sr_in, 1.0, freqs).astype(np.float32)
        out = librosa.resample(y, orig_sr=sr_in, target_sr=sr_out)
        cases.append(
            {
                "sr_in": sr_in,
                "sr_out": sr_out,
                "freqs": [[a, f] for a, f in freqs],
                "seconds": 1.0,
                "len_out": int(len(out)),
                # Every 11th sample of the output keeps the file small.
                "stride": 11,
                "librosa": [float("%.7g" % v) for v in out[::11]],
            }
        )
    (OUT / "audio_resample.json").write_text(
        json.dumps({"librosa_version": librosa.__version__, "res_type": "soxr_hq", "cases": cases})
    )


if __name__ == "__main__":
    encoded()
    resample_cases()
    print("wrote", OUT)
