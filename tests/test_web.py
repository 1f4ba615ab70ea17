"""The web app in a real browser: headless Chromium (Debian's chromium and
chromedriver, driven by Selenium) against `speaker-similarity serve` started on a
free loopback port, over a model trained here on the Free Spoken Digit Dataset.

The model is trained on FSDD clips with index 5 and up (`{digit}_{speaker}_{n}.wav`,
n >= 5); the clips uploaded are from the held-out part (n < 5). Screenshots go to
tests/artifacts/ (gitignored).

Run: `make app-test` (builds the binary, installs chromium when missing).
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
import wave

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The binary under test: $SPEAKER_SIMILARITY_BIN (`make app-test` passes the debug build
# that `cargo test` already made), else the release build.
BIN = pathlib.Path(
    os.environ.get("SPEAKER_SIMILARITY_BIN", ROOT / "target" / "release" / "speaker-similarity")
)
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
# A held-out clip (index < 5) and the speaker who says it.
CLIP, CLIP_SPEAKER = "7_theo_3.wav", "theo"
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def shared_datasets() -> pathlib.Path:
    """First of $SPEAKER_SHARED_DATASETS, <repo>/../shared/datasets and
    /work/shared/datasets that exists."""
    candidates = [os.environ.get("SPEAKER_SHARED_DATASETS")]
    candidates += [str(ROOT.parent / "shared" / "datasets"), "/work/shared/datasets"]
    for c in candidates:
        if c and (pathlib.Path(c) / "fsdd").is_dir():
            return pathlib.Path(c)
    pytest.fail(
        "the browser tests need ../shared/datasets/fsdd (real speech) beside the repository, "
        "or SPEAKER_SHARED_DATASETS pointing at the datasets folder"
    )


def join_wavs(paths, out):
    """Concatenate mono 16-bit WAV files of one rate into `out`."""
    frames, params = [], None
    for p in paths:
        with wave.open(str(p)) as w:
            params = params or w.getparams()
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (
                params.nchannels,
                params.sampwidth,
                params.framerate,
            )
            frames.append(w.readframes(w.getnframes()))
    with wave.open(str(out), "wb") as o:
        o.setnchannels(params.nchannels)
        o.setsampwidth(params.sampwidth)
        o.setframerate(params.framerate)
        o.writeframes(b"".join(frames))
    return out


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="speaker-similarity-web-test-") as d:
        yield pathlib.Path(d)


@pytest.fixture(scope="session")
def fsdd():
    return shared_datasets() / "fsdd"


@pytest.fixture(scope="session")
def model(workdir, fsdd):
    """Train on the clips with index >= 5 (links to the shared files, no copies)."""
    assert BIN.exists(), f"{BIN} is missing: run `cargo build -p speaker-similarity`"
    train = workdir / "fsdd-train"
    train.mkdir()
    n = 0
    for clip in sorted(fsdd.glob("*.wav")):
        m = FSDD_NAME.match(clip.name)
        if m and int(m.group(3)) >= 5:
            (train / clip.name).symlink_to(clip)
            n += 1
    assert n > 2000, f"only {n} FSDD clips found in {fsdd}"
    out = workdir / "model"
    t0 = time.time()
    r = subprocess.run(
        [str(BIN), "train", "--data", str(train), "--all", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"trained on {n} FSDD clips in {time.time() - t0:.1f} s")
    return out


def start_server(model, *extra):
    """`serve` over `model` on a free port: (process, URL)."""
    proc = subprocess.Popen(
        [str(BIN), "serve", "--model", str(model), "--port", "0", "--yt-dlp", "/nonexistent/yt-dlp",
         # Offline: a name table stands in for DNS, so the URL passes the address
         # checks (a public address) and reaches the missing yt-dlp.
         "--fetch-resolve", "www.youtube.com=142.250.74.46", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = None
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.kill()
        pytest.fail("serve did not print its URL:\n" + "".join(lines))
    # Keep draining the server's output so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, url


@pytest.fixture(scope="session")
def server(model):
    proc, url = start_server(model)
    yield url
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "serve stops cleanly on SIGTERM"


@pytest.fixture(scope="session")
def enrol_server(model, workdir):
    """A server with --allow-enrol over a copy of the model (enrolment changes it)."""
    copy = workdir / "model-enrol"
    shutil.copytree(model, copy)
    proc, url = start_server(copy, "--allow-enrol")
    yield url, copy
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "serve stops cleanly on SIGTERM"


@pytest.fixture(scope="session")
def fake_microphone(workdir, fsdd):
    """What Chromium's fake capture device plays: held-out clips of one speaker."""
    clips = [fsdd / f"{d}_{CLIP_SPEAKER}_{i}.wav" for i in range(2) for d in range(10)]
    return join_wavs(clips, workdir / "microphone.wav")


@pytest.fixture(scope="session")
def driver(workdir, fake_microphone):
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            pytest.fail(f"{exe} is missing: `make browser` installs Debian's chromium and chromium-driver")
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ]:
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def shot(driver, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The whole page, not only the window.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(1000, min(height + 40, 6000)))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path


def wait(driver, seconds=60):
    return WebDriverWait(driver, seconds)


def segment_rows(driver):
    """The segments table: one dict per row."""
    rows = []
    for tr in driver.find_elements(By.CSS_SELECTOR, "#segments tbody tr"):
        cells = tr.find_elements(By.TAG_NAME, "td")
        rows.append(
            {
                "time": cells[1].text,
                "player": tr.find_elements(By.TAG_NAME, "audio"),
                "mlp": tr.get_attribute("data-mlp"),
                "gmm": tr.get_attribute("data-gmm"),
                "mlp_text": cells[3].text if len(cells) > 3 else "",
                "similar": [li.text for li in tr.find_elements(By.CSS_SELECTOR, "ol.similar li")],
            }
        )
    return rows


def recorded_seconds(driver):
    text = driver.find_element(By.ID, "rec-time").text.split()
    return float(text[0]) if text else 0.0


def upload(driver, server, path):
    driver.get(server + "/")
    driver.find_element(By.ID, "audio-file").send_keys(str(path))
    driver.find_element(By.ID, "upload-button").click()


# ---------------------------------------------------------------------- tests


def test_home_page(driver, server):
    driver.get(server + "/")
    assert "Which speaker does this voice sound like?" in driver.page_source
    for card in ["upload-card", "record-card", "url-card", "session"]:
        assert driver.find_element(By.ID, card).is_displayed()
    assert "6 enrolled speakers" in driver.find_element(By.TAG_NAME, "footer").text
    assert "yt-dlp is not installed" in driver.find_element(By.ID, "yt-dlp-missing").text
    shot(driver, "01-home")


def test_upload_a_held_out_clip(driver, server, fsdd):
    upload(driver, server, fsdd / CLIP)
    wait(driver).until(EC.url_contains("/segments/"))
    assert driver.find_element(By.ID, "recording-title").text == CLIP
    rows = segment_rows(driver)
    assert len(rows) == 1, rows
    assert rows[0]["time"].startswith("0.0")
    assert rows[0]["mlp"] == CLIP_SPEAKER, rows[0]
    assert rows[0]["gmm"] == CLIP_SPEAKER, rows[0]
    assert len(rows[0]["similar"]) == 3
    assert len(rows[0]["player"]) == 1
    assert driver.find_element(By.ID, "verdict-mlp").get_attribute("data-speaker") == CLIP_SPEAKER
    print(f"{CLIP}: MLP {rows[0]['mlp_text']!r}, GMM {rows[0]['gmm']}, similar {rows[0]['similar']}")
    shot(driver, "02-segments-one-clip")


@pytest.mark.parametrize("speaker", ["george", "nicolas"])
def test_upload_a_longer_recording(driver, server, fsdd, workdir, speaker):
    """Ten held-out clips of one speaker, about 4 s: several 2 s segments."""
    clips = [fsdd / f"{d}_{speaker}_4.wav" for d in range(10)]
    path = join_wavs(clips, workdir / f"{speaker}-held-out.wav")
    upload(driver, server, path)
    wait(driver).until(EC.url_contains("/segments/"))
    rows = segment_rows(driver)
    assert len(rows) >= 2, rows
    for i, r in enumerate(rows):
        assert r["time"].startswith(f"{2 * i}.0"), r["time"]
        assert len(r["player"]) == 1
    right = sum(r["mlp"] == speaker for r in rows)
    assert 2 * right > len(rows), f"MLP right in {right} of {len(rows)}: {rows}"
    assert driver.find_element(By.ID, "verdict-mlp").get_attribute("data-speaker") == speaker
    assert driver.find_element(By.ID, "verdict-gmm").get_attribute("data-speaker") == speaker
    # A segment's player really plays audio served from the server's memory.
    src = rows[0]["player"][0].get_attribute("src")
    with urllib.request.urlopen(src, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "audio/wav"
        assert resp.read(4) == b"RIFF"
    print(f"{speaker}: {len(rows)} segments, MLP right in {right}")
    shot(driver, f"03-segments-{speaker}")


def test_celebrities(driver, server):
    driver.get(server + "/celebrities")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Known celebrities"
    rows = driver.find_elements(By.CSS_SELECTOR, "#celebrities tbody tr")
    assert [r.get_attribute("data-speaker") for r in rows] == SPEAKERS
    for r in rows:
        clips = int(r.find_element(By.CSS_SELECTOR, "td.count").text)
        assert clips == 450, clips  # indexes 5..49 of 10 digits
        assert len(r.find_elements(By.CSS_SELECTOR, "ol.similar li")) == 3
    assert driver.find_element(By.ID, "similarity-matrix").is_displayed()
    shot(driver, "04-celebrities")


def test_record_with_the_fake_microphone(driver, server):
    driver.get(server + "/")
    driver.find_element(By.ID, "record").click()
    status = driver.find_element(By.ID, "rec-status")
    wait(driver, 30).until(lambda d: "Format: 1 channel PCM @" in status.text)
    print("recording:", status.text)
    # Record a little over two segments.
    wait(driver, 30).until(lambda d: recorded_seconds(d) >= 4.5)
    driver.find_element(By.ID, "stop").click()
    item = wait(driver, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#session-list li.local-recording"))
    )
    player = item.find_element(By.TAG_NAME, "audio")
    assert player.get_attribute("src").startswith("blob:")
    name = item.find_element(By.CSS_SELECTOR, ".name").text
    assert re.fullmatch(r"recording-\d+-\d+-\d{4}-\d+\.wav", name), name
    # The recording is a real WAV of about the recorded length.
    wait(driver, 10).until(
        lambda d: (d.execute_script("return arguments[0].duration", player) or 0) > 0
    )
    duration = driver.execute_script("return arguments[0].duration", player)
    assert 4.0 < duration < 10.0, duration
    shot(driver, "05-recorded")
    item.find_element(By.CSS_SELECTOR, "button.analyse").click()
    wait(driver).until(EC.url_contains("/segments/"))
    rows = segment_rows(driver)
    assert len(rows) >= 2, rows
    verdict = driver.find_element(By.ID, "verdict-mlp").get_attribute("data-speaker")
    print(f"recorded {duration:.1f} s through the fake microphone ({CLIP_SPEAKER} speaking): "
          f"{len(rows)} segments, MLP verdict {verdict}, per segment {[r['mlp'] for r in rows]}")
    shot(driver, "06-segments-recorded")
    # Back home: this session's recordings, with players, newest first.
    driver.get(server + "/")
    items = driver.find_elements(By.CSS_SELECTOR, "#session-list li.analysed-recording")
    titles = [i.find_element(By.CSS_SELECTOR, ".name").text for i in items]
    assert titles[0] == name, titles
    assert CLIP in titles, titles
    assert all(i.find_element(By.TAG_NAME, "audio").get_attribute("src") for i in items)
    assert not driver.find_element(By.ID, "session-empty").is_displayed()
    shot(driver, "07-home-session-list")


def test_a_file_that_is_not_audio(driver, server, workdir):
    fake = workdir / "not-audio.wav"
    fake.write_text("this is text, whatever its name says\n" * 20)
    upload(driver, server, fake)
    msg = wait(driver).until(EC.presence_of_element_located((By.ID, "error-message")))
    assert "not an audio file" in msg.text
    shot(driver, "08-not-audio")


def test_a_url_without_yt_dlp(driver, server):
    driver.get(server + "/")
    driver.find_element(By.ID, "url").send_keys("https://www.youtube.com/watch?v=0GgHhOqUrUw")
    driver.find_element(By.ID, "url-button").click()
    msg = wait(driver).until(EC.presence_of_element_located((By.ID, "error-message")))
    assert "yt-dlp, which is not installed" in msg.text
    shot(driver, "09-url-without-yt-dlp")


def test_api_beside_the_pages(server, fsdd):
    with urllib.request.urlopen(server + "/api/speakers", timeout=30) as r:
        v = json.load(r)
    assert [s["id"] for s in v["speakers"]] == SPEAKERS
    req = urllib.request.Request(
        server + "/api/predict?name=" + CLIP,
        data=(fsdd / CLIP).read_bytes(),
        headers={"Content-Type": "audio/wav"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        v = json.load(r)
    assert v["overall"]["mlp"]["speaker"] == CLIP_SPEAKER
    assert v["segments"][0]["mlp"]["speaker"] == CLIP_SPEAKER


def test_timeline_of_a_conversation(driver, server, fsdd, workdir):
    """Three turns of two held-out speakers: the page's timeline has the API's
    turns, each labelled with its speaker's name (or "unknown speaker k"), and a
    click plays the recording from the turn's start and stops at its end."""
    turns = [("george", 0), ("jackson", 0), ("george", 1)]
    clips = [fsdd / f"{d}_{who}_{i}.wav" for who, i in turns for d in range(10)]
    path = join_wavs(clips, workdir / "conversation.wav")
    upload(driver, server, path)
    wait(driver).until(EC.url_contains("/segments/"))
    timeline = driver.find_element(By.ID, "timeline")
    buttons = timeline.find_elements(By.CSS_SELECTOR, ".turn")
    rec_id = driver.find_element(By.ID, "verdict").get_attribute("data-recording-id")
    with urllib.request.urlopen(f"{server}/api/recordings/{rec_id}", timeout=60) as r:
        d = json.load(r)["diarization"]
    assert "error" not in d, d
    assert int(timeline.get_attribute("data-turns")) == len(d["turns"]) == len(buttons)
    assert int(timeline.get_attribute("data-speakers")) == len(d["speakers"])
    names = {s["label"]: s["name"] for s in d["speakers"]}
    shown = sorted(
        (float(b.get_attribute("data-start")), float(b.get_attribute("data-end")),
         b.get_attribute("data-label"), b.text or b.get_attribute("data-name"))
        for b in buttons
    )
    for (start, end, label, text), t in zip(shown, d["turns"]):
        assert abs(start - t["start"]) < 1e-3 and abs(end - t["end"]) < 1e-3
        assert label == t["label"]
        assert text == names[label]
        assert text in SPEAKERS or re.fullmatch(r"unknown speaker \d+", text), text
    assert not driver.find_elements(By.ID, "enrol-form"), "no enrolment without --allow-enrol"
    labels = [t["label"] for t in d["turns"]]
    print(f"timeline: {len(d['speakers'])} speakers, {len(labels)} turns: "
          f"{[(round(t['start'], 2), round(t['end'], 2), t['label']) for t in d['turns']]}")
    shot(driver, "10-timeline")
    # Click the longest turn that does not start the recording.
    b = max((b for b in buttons if float(b.get_attribute("data-start")) > 0.5),
            key=lambda b: float(b.get_attribute("data-end")) - float(b.get_attribute("data-start")))
    start, end = float(b.get_attribute("data-start")), float(b.get_attribute("data-end"))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", b)
    b.click()
    player = driver.find_element(By.ID, "timeline-player")
    wait(driver, 30).until(lambda d: not d.execute_script("return arguments[0].paused", player))
    now = driver.execute_script("return arguments[0].currentTime", player)
    assert start - 0.05 <= now < end, (start, now, end)
    assert "playing" in b.get_attribute("class")
    # It plays on to the turn's end and stops there.
    wait(driver, 30 + (end - start)).until(
        lambda d: d.execute_script("return arguments[0].paused", player))
    stopped = driver.execute_script("return arguments[0].currentTime", player)
    assert end - 0.05 <= stopped < end + 0.5, (end, stopped)
    assert "playing" not in b.get_attribute("class")
    print(f"clicked the turn {start:.2f}-{end:.2f} s: played from {now:.2f} s, stopped at {stopped:.2f} s")


def test_enrol_this_voice(driver, enrol_server, workdir):
    """A dsp34 speaker (not in the FSDD model) enrolled from the page's form: the
    speakers page lists it, and the next upload of other words of the same
    speaker is named after it."""
    url, model_dir = enrol_server
    speaker = "15307110189"
    dsp34 = shared_datasets() / "dsp34" / speaker
    if not dsp34.is_dir():
        pytest.skip(f"{dsp34} is missing")
    enrol_clips = [dsp34 / f"{speaker}-{w:02d}-01.wav" for w in range(10)]
    query_clips = [dsp34 / f"{speaker}-{w:02d}-02.wav" for w in range(10, 14)]
    upload(driver, url, join_wavs(enrol_clips, workdir / "dsp34-enrol.wav"))
    wait(driver).until(EC.url_contains("/segments/"))
    page = driver.current_url
    assert "Enrol this voice as..." in driver.find_element(By.ID, "enrol-card").text
    driver.find_element(By.ID, "enrol-speaker").send_keys("dsp-189")
    driver.find_element(By.ID, "enrol-name").send_keys("Dee Ess Pee")
    shot(driver, "11-enrol-form")
    driver.find_element(By.ID, "enrol-button").click()
    name = wait(driver).until(EC.presence_of_element_located((By.ID, "enrolled-name")))
    assert name.text == "Dee Ess Pee"
    assert "The model has 7 speakers" in driver.find_element(By.ID, "enrolled").text
    shot(driver, "12-enrolled")
    # On disk: the model directory has the speaker (its history names it).
    assert "dsp-189" in (model_dir / "models.json").read_text()
    driver.get(url + "/celebrities")
    rows = driver.find_elements(By.CSS_SELECTOR, "#celebrities tbody tr")
    assert [r.get_attribute("data-speaker") for r in rows] == SPEAKERS + ["dsp-189"]
    # The next upload, other words of the same speaker, is named after it.
    upload(driver, url, join_wavs(query_clips, workdir / "dsp34-query.wav"))
    wait(driver).until(EC.url_contains("/segments/"))
    gmm = driver.find_element(By.ID, "verdict-gmm").get_attribute("data-speaker")
    assert gmm == "dsp-189", gmm
    print(f"enrolled dsp34 speaker {speaker} from 10 words as dsp-189; 4 other words: GMM {gmm}, "
          f"open set: {driver.find_element(By.ID, 'verdict-open-set').text!r}")
    # The same id again: refused with a sentence, the directory unchanged.
    before = (model_dir / "models.json").read_bytes()
    driver.get(page)
    driver.find_element(By.ID, "enrol-speaker").send_keys("dsp-189")
    driver.find_element(By.ID, "enrol-button").click()
    msg = wait(driver).until(EC.presence_of_element_located((By.ID, "error-message")))
    assert 'speaker id "dsp-189" is taken' in msg.text and "unchanged" in msg.text, msg.text
    assert (model_dir / "models.json").read_bytes() == before
