"""Every chart kind of `speaker_similarity::plot`, rendered in headless Chromium and
checked for the layout faults a reader sees at a glance.

`crate/examples/chart_gallery.rs` draws one chart of each kind on the built-in
synthetic corpus (speaker names such as "Tobias Resonaut", a real MLP history, real
verification trials) and writes each as SVG and, rasterised by resvg, PNG. Each SVG
is put inline into a page, as Jupyter shows it, and JavaScript measures every text
element with getBBox (mapped through its transform to canvas pixels):

- every text lies inside the canvas (no clipped label);
- no two texts overlap;
- no text is printed twice at the same place;
- a legend box (the translucent white box `plot` draws legends in) covers no data:
  no series line crosses it, no bar or envelope lies under it.

The PNG is the same SVG rasterised, so it is checked by rendering that SVG again with
the font resvg uses for "sans-serif" (DejaVu Sans, first of its preferences, when
installed); its pixel size must be the SVG's. Screenshots of every chart go to
tests/artifacts/charts/ (gitignored): `<kind>.png` (Chromium) beside the gallery's
own files in `files/`.

Run: `make chart-test` (part of `make test`).
"""

import base64
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = pathlib.Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts" / "charts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
KINDS = [
    "histogram",
    "bars",
    "waveform",
    "heatmap",
    "lines",
    "similarity_matrix",
    "similarity_bars",
    "det_curves",
    "det_curves_marked",
    "histograms",
    "confusion_matrix",
    "training_curves",
]
# The font resvg maps "sans-serif" to in Chart::png (first of its list that is installed).
PNG_FONTS = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans"]

CHECK_JS = r"""
const svg = document.querySelector('svg');
const W = parseFloat(svg.getAttribute('width')), H = parseFloat(svg.getAttribute('height'));
const inv = svg.getScreenCTM().inverse();
function box(el) {
  const b = el.getBBox();
  const m = inv.multiply(el.getScreenCTM());
  const pts = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]
    .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  return {x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys)};
}
const r = v => Math.round(v * 10) / 10;
const show = b => `[${r(b.x0)},${r(b.y0)} - ${r(b.x1)},${r(b.y1)}]`;
const problems = [];
const texts = [...svg.querySelectorAll('text')]
  .filter(t => t.textContent.trim() !== '')
  .map(t => ({text: t.textContent.trim(), b: box(t)}));
for (const t of texts) {
  const b = t.b;
  if (b.x0 < -0.5 || b.y0 < -0.5 || b.x1 > W + 0.5 || b.y1 > H + 0.5)
    problems.push(`clipped: "${t.text}" at ${show(b)} outside the ${W}x${H} canvas`);
}
for (let i = 0; i < texts.length; i++) {
  for (let j = i + 1; j < texts.length; j++) {
    const a = texts[i].b, b = texts[j].b;
    const ix = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
    const iy = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
    if (texts[i].text === texts[j].text && Math.abs(a.x0 - b.x0) < 3 && Math.abs(a.y0 - b.y0) < 3)
      problems.push(`printed twice: "${texts[i].text}" at ${show(a)}`);
    else if (ix > 1 && iy > 1)
      problems.push(`overlap: "${texts[i].text}" ${show(a)} and "${texts[j].text}" ${show(b)}`);
  }
}
// Legends: the translucent white boxes. Data: series lines (stroke-width >= 2),
// filled polygons, and filled rects that are not white; glyphs inside a legend box
// belong to it.
const num = (el, a) => parseFloat(el.getAttribute(a));
const legends = [...svg.querySelectorAll('rect')]
  .filter(e => (e.getAttribute('fill') || '').toUpperCase() === '#FFFFFF' && e.hasAttribute('opacity')
          && num(e, 'opacity') < 1)
  .map(e => ({x0: num(e, 'x'), y0: num(e, 'y'), x1: num(e, 'x') + num(e, 'width'), y1: num(e, 'y') + num(e, 'height')}));
const inside = (b, x, y) => x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1;
function segMeets(b, ax, ay, bx, by) {
  let t0 = 0, t1 = 1; const dx = bx - ax, dy = by - ay;
  for (const [p, q] of [[-dx, ax - b.x0], [dx, b.x1 - ax], [-dy, ay - b.y0], [dy, b.y1 - ay]]) {
    if (p === 0) { if (q < 0) return false; }
    else { const t = q / p; if (p < 0) t0 = Math.max(t0, t); else t1 = Math.min(t1, t); if (t0 > t1) return false; }
  }
  return true;
}
function points(e) {
  return (e.getAttribute('points') || '').trim().split(/\s+/).filter(s => s).map(s => s.split(',').map(Number));
}
function inPolygon(pts, x, y) {
  let c = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i], [xj, yj] = pts[j];
    if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) c = !c;
  }
  return c;
}
legends.forEach((L, k) => {
  const b = {x0: L.x0 + 1, y0: L.y0 + 1, x1: L.x1 - 1, y1: L.y1 - 1};
  for (const e of svg.querySelectorAll('polyline')) {
    if (num(e, 'stroke-width') < 2) continue;
    const p = points(e);
    if (p.every(([x, y]) => inside(L, x, y) || (x >= L.x0 && x <= L.x1 && y >= L.y0 && y <= L.y1))) continue;
    for (let i = 0; i + 1 < p.length; i++) {
      if (segMeets(b, p[i][0], p[i][1], p[i + 1][0], p[i + 1][1])) {
        problems.push(`legend ${k} ${show(L)} covers a line at ${r(p[i][0])},${r(p[i][1])}`);
        break;
      }
    }
  }
  for (const e of svg.querySelectorAll('polygon')) {
    const p = points(e);
    const hit = p.some(([x, y]) => inside(b, x, y)) ||
      [[b.x0, b.y0], [b.x1, b.y0], [b.x0, b.y1], [b.x1, b.y1], [(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2]]
        .some(([x, y]) => inPolygon(p, x, y));
    if (hit) problems.push(`legend ${k} ${show(L)} covers a filled area`);
  }
  for (const e of svg.querySelectorAll('rect')) {
    const fill = (e.getAttribute('fill') || '').toUpperCase();
    if (fill === '#FFFFFF' || fill === 'NONE' || fill === '') continue;
    const q = {x0: num(e, 'x'), y0: num(e, 'y'), x1: num(e, 'x') + num(e, 'width'), y1: num(e, 'y') + num(e, 'height')};
    if (q.x0 >= L.x0 && q.x1 <= L.x1 && q.y0 >= L.y0 && q.y1 <= L.y1) continue;  // its glyph
    const ix = Math.min(q.x1, b.x1) - Math.max(q.x0, b.x0), iy = Math.min(q.y1, b.y1) - Math.max(q.y0, b.y0);
    if (ix > 0 && iy > 0) { problems.push(`legend ${k} ${show(L)} covers a bar ${show(q)}`); break; }
  }
});
return JSON.stringify({width: W, height: H, texts: texts.length, legends: legends.length, problems});
"""


@pytest.fixture(scope="session")
def gallery():
    """The gallery's SVG and PNG files, made by the example (cargo builds it when needed)."""
    out = ARTIFACTS / "files"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # The example as `cargo test --workspace` builds it (the workspace's feature set has
    # `png`, which the app turns on): no second build with another feature set.
    cargo = os.environ.get("CARGO", "cargo")
    built = subprocess.run(
        [cargo, "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert built.returncode == 0, built.stderr
    exe = None
    for line in built.stdout.splitlines():
        msg = json.loads(line) if line.startswith("{") else {}
        target = msg.get("target", {})
        if (msg.get("reason") == "compiler-artifact" and target.get("name") == "chart_gallery"
                and "example" in target.get("kind", []) and msg.get("executable")):
            exe = msg["executable"]
    assert exe, "cargo test --workspace --no-run built no chart_gallery example"
    r = subprocess.run([exe, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.fixture(scope="session")
def driver():
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            pytest.fail(f"{exe} is missing: `make browser` installs Debian's chromium and chromium-driver")
    profile = tempfile.mkdtemp(prefix="chromium-profile-charts-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1100",
                 "--hide-scrollbars", "--force-device-scale-factor=1"]:
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def png_font() -> str | None:
    """The family resvg renders "sans-serif" with here (Chart::png's preference order)."""
    try:
        families = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return None
    have = {f.strip() for line in families.splitlines() for f in line.split(",")}
    return next((f for f in PNG_FONTS if f in have), None)


def png_size(path: pathlib.Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def show(driver, svg: str, font: str | None, tmp: pathlib.Path, name: str) -> dict:
    """Put `svg` inline into a page (as Jupyter does) and run the layout checks."""
    style = f'svg text {{ font-family: "{font}" !important; }}' if font else ""
    page = tmp / f"{name}.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><style>body {{ margin: 0 }} {style}"
                    f"</style></head><body>{svg}</body></html>", encoding="utf-8")
    driver.get(page.as_uri())
    return json.loads(driver.execute_script(CHECK_JS))


@pytest.mark.parametrize("kind", KINDS)
def test_chart_reads_at_a_glance(driver, gallery, kind, tmp_path):
    svg_path, png_path = gallery / f"{kind}.svg", gallery / f"{kind}.png"
    assert svg_path.exists(), f"the gallery drew no {kind}"
    svg = svg_path.read_text(encoding="utf-8")
    result = show(driver, svg, None, tmp_path, kind)
    assert result["texts"] > 3, result
    assert not result["problems"], f"{kind} (Chromium's sans-serif):\n" + "\n".join(result["problems"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.find_element(By.TAG_NAME, "svg").screenshot(str(ARTIFACTS / f"{kind}.png"))

    # The PNG: the same SVG, rasterised at its own size, in the font resvg uses.
    assert png_path.exists(), f"no PNG of {kind} (the gallery runs with --features png)"
    assert png_size(png_path) == (int(result["width"]), int(result["height"]))
    font = png_font()
    if font:
        as_png = show(driver, svg, font, tmp_path, kind + "-png-font")
        assert not as_png["problems"], f"{kind} (PNG font {font}):\n" + "\n".join(as_png["problems"])
    # And the PNG file itself shows in the browser at that size.
    data = base64.b64encode(png_path.read_bytes()).decode()
    page = tmp_path / f"{kind}-png.html"
    page.write_text(f"<!doctype html><body style='margin:0'><img id='c' src='data:image/png;base64,{data}'>")
    driver.get(page.as_uri())
    w, h = driver.execute_script("const i = document.getElementById('c'); return [i.naturalWidth, i.naturalHeight];")
    assert (w, h) == (int(result["width"]), int(result["height"]))


def test_legend_check_sees_a_covering_legend(driver, tmp_path):
    """The checks can fail: a legend box over a line, two overlapping labels and a
    label past the canvas edge are all reported."""
    svg = ("<svg width='200' height='100' xmlns='http://www.w3.org/2000/svg'>"
           "<polyline fill='none' stroke='#1F77B4' stroke-width='2' points='0,50 200,50'/>"
           "<rect x='100' y='30' width='60' height='40' opacity='0.9' fill='#FFFFFF'/>"
           "<text x='10' y='20' font-size='12'>first label</text>"
           "<text x='20' y='22' font-size='12'>second label</text>"
           "<text x='180' y='90' font-size='12'>cut off</text></svg>")
    problems = show(driver, svg, None, tmp_path, "bad")["problems"]
    assert any(p.startswith("legend") for p in problems), problems
    assert any(p.startswith("overlap") for p in problems), problems
    assert any(p.startswith("clipped") for p in problems), problems
