//! The pages, rendered on the server. Every string that comes from outside (speaker
//! names from data files, upload names, URLs, error messages) goes through [`esc`].

use std::fmt::Write as _;

use axum::response::Html;
use speaker_similarity::pipeline::{ModelKind, Prediction, SpeakerModels};

use super::diarize::PageDiarization;
use super::error::WebError;
use super::state::{AppState, Recording};

/// Escape text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "25 MB", "512 KB", "900 bytes".
pub fn bytes_text(n: usize) -> String {
    const MB: usize = 1024 * 1024;
    if n >= MB && n.is_multiple_of(MB) {
        format!("{} MB", n / MB)
    } else if n >= MB {
        format!("{:.1} MB", n as f64 / MB as f64)
    } else if n >= 1024 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

fn seconds_text(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

const CSS: &str = r#"
:root { --ink:#1d2433; --muted:#5b6477; --line:#dde2ea; --bg:#f5f7fa; --card:#fff;
  --accent:#2f5bd3; --accent-soft:#e7eefc; --bad:#b3261e; --good:#1b7f4b; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:#1d2433; }
nav { max-width:1100px; margin:0 auto; display:flex; gap:1.2rem; align-items:center; padding:.7rem 1rem; }
nav a { color:#c9d3e6; text-decoration:none; }
nav a.active, nav a:hover { color:#fff; }
nav .brand { font-weight:700; color:#fff; margin-right:auto; letter-spacing:.01em; }
main { max-width:1100px; margin:0 auto; padding:1.2rem 1rem 3rem; }
h1 { font-size:1.7rem; margin:.6rem 0 .3rem; }
h2 { font-size:1.15rem; margin:0 0 .6rem; }
.lead { color:var(--muted); margin-top:0; max-width:60rem; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:1rem; margin:1rem 0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1rem 1.2rem; margin:1rem 0; }
.grid .card { margin:0; }
.hint { color:var(--muted); font-size:.9rem; }
.error { color:var(--bad); }
button, .button { font:inherit; border:1px solid var(--accent); background:var(--accent); color:#fff;
  border-radius:6px; padding:.35rem .9rem; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary { background:#fff; color:var(--accent); }
button:disabled { opacity:.45; cursor:default; }
input[type=url], input[type=file] { font:inherit; width:100%; margin:.3rem 0 .6rem; }
input[type=url] { padding:.35rem .5rem; border:1px solid var(--line); border-radius:6px; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:middle; }
th { font-size:.85rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); background:#eef1f6; }
tbody tr:nth-child(even) { background:#fafbfd; }
td.num, td.time, td.count { white-space:nowrap; font-variant-numeric:tabular-nums; }
.score { color:var(--muted); font-variant-numeric:tabular-nums; font-size:.9rem; }
.prob { display:inline-block; width:60px; height:8px; background:var(--accent-soft); border-radius:4px;
  vertical-align:middle; margin:0 .3rem; overflow:hidden; }
.prob span { display:block; height:100%; background:var(--accent); }
ol.similar { margin:0; padding-left:1.2rem; }
td.unscored { color:var(--muted); font-style:italic; }
audio { height:32px; max-width:260px; vertical-align:middle; }
.verdict strong { font-size:1.1rem; }
.facts { display:flex; flex-wrap:wrap; gap:.4rem 1.5rem; color:var(--muted); margin:.2rem 0 1rem; }
#enrol-form label { display:inline-block; margin:.2rem 1rem .4rem 0; }
#enrol-form input { font:inherit; padding:.3rem .5rem; border:1px solid var(--line); border-radius:6px; }
#session-list { list-style:none; padding:0; margin:0; }
#session-list li { display:flex; flex-wrap:wrap; align-items:center; gap:.4rem .9rem; padding:.5rem 0;
  border-bottom:1px solid var(--line); }
#session-list .when { color:var(--muted); font-size:.85rem; }
.matrix td { text-align:center; font-variant-numeric:tabular-nums; font-size:.85rem; padding:.3rem; }
.matrix th { font-size:.75rem; text-transform:none; letter-spacing:0; }
code { background:#eef1f6; padding:.05rem .3rem; border-radius:4px; }
footer { max-width:1100px; margin:0 auto; padding:0 1rem 2rem; color:var(--muted); font-size:.85rem; }
"#;

/// The page frame: navigation, the body, a footer on the models.
pub fn layout(state: &AppState, title: &str, active: &str, body: &str) -> Html<String> {
    let nav = [
        ("/", "Home"),
        ("/celebrities", "Celebrities"),
        ("/api/speakers", "API"),
    ]
    .iter()
    .map(|(href, label)| {
        let class = if *label == active {
            " class=\"active\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{class}>{label}</a>")
    })
    .collect::<String>();
    let models = state
        .models()
        .kinds()
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ");
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Speaker similarity</title><style>{CSS}{timeline_css}</style>\
         <script src=\"/static/app.js\" defer></script></head>\
         <body data-max-upload=\"{max_upload}\" data-max-seconds=\"{max_seconds}\">\
         <header><nav><a class=\"brand\" href=\"/\">Speaker similarity</a>{nav}</nav></header>\
         <main>{body}</main>\
         <footer>{n} enrolled speakers · models: {models} · segments of {seg} s</footer>\
         </body></html>\n",
        title = esc(title),
        max_upload = state.config.max_upload,
        max_seconds = state.config.max_seconds,
        n = state.models().speakers.len(),
        models = esc(&models),
        seg = seconds_text(state.config.segment_seconds),
        timeline_css = super::timeline::CSS,
    ))
}

/// A page that says what went wrong (the frame without the models' footer, so it
/// can be rendered without the state).
pub fn error_page(e: &WebError) -> Html<String> {
    let reason = e.status.canonical_reason().unwrap_or("Error");
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{code} {reason} · Speaker similarity</title><style>{CSS}</style></head>\
         <body><header><nav><a class=\"brand\" href=\"/\">Speaker similarity</a>\
         <a href=\"/\">Home</a><a href=\"/celebrities\">Celebrities</a></nav></header>\
         <main><h1>{reason}</h1><section class=\"card\"><p class=\"error\" id=\"error-message\">{msg}</p>\
         <p><a class=\"button\" href=\"/\">Back to Home</a></p></section></main></body></html>\n",
        code = e.status.as_u16(),
        reason = esc(reason),
        msg = esc(&e.message),
    ))
}

/// Home: upload, record, URL, and this session's recordings.
pub fn home(state: &AppState, yt_dlp: bool) -> Html<String> {
    let c = &state.config;
    let url_note = if yt_dlp {
        "Audio only, fetched through yt-dlp (for example a YouTube video).".to_string()
    } else {
        format!(
            "<span class=\"error\" id=\"yt-dlp-missing\">yt-dlp is not installed on this server, \
             so URLs cannot be fetched.</span> Install it (<code>pip install yt-dlp</code>) or \
             download the audio and upload the file. (looked for <code>{}</code>)",
            esc(&c.yt_dlp)
        )
    };
    let body = format!(
        r#"<h1>Which speaker does this voice sound like?</h1>
<p class="lead">Upload a recording, record your voice or paste a URL. The recording is cut
into {seg} s segments; each is scored by the neural network and the Gaussian mixture
models trained on {n} enrolled speakers, and ranked against them by similarity.</p>
<div class="grid">
<section class="card" id="upload-card">
  <h2>Upload a file</h2>
  <form id="upload-form" method="post" action="/upload" enctype="multipart/form-data">
    <input type="file" name="audio" id="audio-file" accept="audio/*,.wav,.flac,.mp3,.ogg" required>
    <button type="submit" id="upload-button">Analyse</button>
  </form>
  <p class="hint">WAV, FLAC, MP3 or OGG/Vorbis; up to {max} and {secs} s.</p>
  <p class="error" id="upload-error" hidden></p>
</section>
<section class="card" id="record-card">
  <h2>Record from the microphone</h2>
  <p><button type="button" id="record">Record</button>
     <button type="button" id="stop" class="secondary" disabled>Stop</button>
     <span id="rec-time" class="score"></span></p>
  <p class="hint" id="rec-status">The page records 1 channel, 16-bit PCM WAV at your sound card's rate; nothing is sent until you press Analyse.</p>
</section>
<section class="card" id="url-card">
  <h2>Fetch from a URL</h2>
  <form id="url-form" method="post" action="/fetch">
    <input type="url" name="url" id="url" placeholder="https://www.youtube.com/watch?v=..." required>
    <button type="submit" id="url-button">Process</button>
  </form>
  <p class="hint">{url_note}</p>
</section>
</div>
<section class="card" id="session">
  <h2>This session's recordings</h2>
  <p class="hint" id="session-empty">None yet. Recordings you make and files you analyse in this browser tab are listed here.</p>
  <ul id="session-list"></ul>
</section>"#,
        seg = seconds_text(c.segment_seconds),
        n = state.models().speakers.len(),
        max = bytes_text(c.max_upload),
        secs = seconds_text(c.max_seconds),
    );
    layout(state, "Home", "Home", &body)
}

fn mlp_cell(p: &Prediction) -> String {
    match p.by(ModelKind::Mlp) {
        Some(g) => {
            let prob = g.score.unwrap_or(0.0).clamp(0.0, 1.0);
            format!(
                "<span class=\"speaker\">{}</span><span class=\"prob\"><span style=\"width:{:.0}%\"></span></span>\
                 <span class=\"score\">{prob:.2}</span>",
                esc(&g.name),
                prob * 100.0
            )
        }
        None => "–".into(),
    }
}

fn gmm_cell(models: &SpeakerModels, p: &Prediction) -> String {
    match models.headline_gmm().and_then(|k| p.by(k)) {
        Some(g) => format!("<span class=\"speaker\">{}</span>", esc(&g.name)),
        None => "–".into(),
    }
}

/// An open-set verdict as HTML: the accepted speaker, or "unknown (closest …)" /
/// "no speech", with the calibrated LLR and the threshold; the speaker id (empty
/// when none) in `data-speaker`.
fn verdict_html(v: Option<&speaker_similarity::calibration::Verdict>) -> String {
    let Some(v) = v else {
        return "<span class=\"score\">no open-set calibration</span>".into();
    };
    let what = match (&v.speaker, v.reason, &v.name) {
        (Some(id), _, n) => format!("<strong>{}</strong>", esc(n.as_deref().unwrap_or(id))),
        (None, Some(r), Some(n)) => format!(
            "{} <span class=\"score\">(closest: {})</span>",
            r.as_str(),
            esc(n)
        ),
        (None, Some(r), None) => r.as_str().to_string(),
        (None, None, _) => "unknown".into(),
    };
    let score = v
        .score
        .map(|s| {
            format!(
                " <span class=\"score\">LLR {s:.2} (threshold {:.2})</span>",
                v.threshold
            )
        })
        .unwrap_or_default();
    format!(
        "<span class=\"open-set\" data-speaker=\"{}\" data-accepted=\"{}\">{what}{score}</span>",
        esc(v.speaker.as_deref().unwrap_or("")),
        v.accepted
    )
}

fn similar_list(p: &Prediction) -> String {
    let mut s = String::from("<ol class=\"similar\">");
    for x in &p.similar {
        let _ = write!(
            s,
            "<li><span class=\"speaker\">{}</span> <span class=\"score\">{:.2}</span></li>",
            esc(&x.speaker),
            x.score
        );
    }
    s.push_str("</ol>");
    s
}

/// The segments of one analysed recording, the verdict on the whole, the timeline
/// of who speaks when, and (with `--allow-enrol`) the enrolment form.
pub fn segments(
    state: &AppState,
    id: &str,
    rec: &Recording,
    diarization: &PageDiarization,
) -> Html<String> {
    let models_now = state.models();
    let models = &*models_now;
    let r = &rec.prediction;
    let gmm_name = models.headline_gmm().map(|k| k.name()).unwrap_or("none");
    let mut rows = String::new();
    let mut scored = 0;
    let mut votes: std::collections::BTreeMap<&str, usize> = Default::default();
    for (i, s) in r.segments.iter().enumerate() {
        let time = format!("{:.1}–{:.1}", s.start, s.end);
        let player = format!(
            "<audio controls preload=\"none\" src=\"/audio/{id}/{i}.wav\" title=\"segment {}\"></audio>",
            i + 1
        );
        match &s.result {
            Ok(p) => {
                scored += 1;
                let mlp_id = p
                    .by(ModelKind::Mlp)
                    .map(|g| g.speaker.as_str())
                    .unwrap_or("");
                let gmm_id = models
                    .headline_gmm()
                    .and_then(|k| p.by(k))
                    .map(|g| g.speaker.as_str())
                    .unwrap_or("");
                if let Some(g) = p.by(ModelKind::Mlp) {
                    *votes.entry(g.name.as_str()).or_default() += 1;
                }
                let _ = write!(
                    rows,
                    "<tr data-index=\"{i}\" data-mlp=\"{}\" data-gmm=\"{}\"><td class=\"num\">{}</td>\
                     <td class=\"time\">{time}</td><td>{player}</td><td class=\"mlp\">{}</td>\
                     <td class=\"gmm\">{}</td><td>{}</td><td class=\"verdict\">{}</td></tr>",
                    esc(mlp_id),
                    esc(gmm_id),
                    i + 1,
                    mlp_cell(p),
                    gmm_cell(models, p),
                    similar_list(p),
                    verdict_html(s.verdict.as_ref()),
                );
            }
            Err(e) => {
                let _ = write!(
                    rows,
                    "<tr data-index=\"{i}\" class=\"unscored\"><td class=\"num\">{}</td>\
                     <td class=\"time\">{time}</td><td>{player}</td>\
                     <td colspan=\"3\" class=\"unscored\">not scored: {}</td>\
                     <td class=\"verdict\">{}</td></tr>",
                    i + 1,
                    esc(e),
                    verdict_html(s.verdict.as_ref()),
                );
            }
        }
    }
    let o = &r.overall;
    let mlp_verdict = match o.by(ModelKind::Mlp) {
        Some(g) => format!(
            "<p>Neural network (MLP): <strong id=\"verdict-mlp\" data-speaker=\"{}\">{}</strong> \
             <span class=\"score\">probability {:.2}</span></p>",
            esc(&g.speaker),
            esc(&g.name),
            g.score.unwrap_or(0.0)
        ),
        None => String::new(),
    };
    let gmm_verdict = match models.headline_gmm().and_then(|k| o.by(k)) {
        Some(g) => format!(
            "<p>Gaussian mixture models ({gmm_name}): <strong id=\"verdict-gmm\" data-speaker=\"{}\">{}</strong></p>",
            esc(&g.speaker),
            esc(&g.name)
        ),
        None => String::new(),
    };
    let vote_text = votes
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(name, n)| {
            format!(
                "<p>Segment by segment, the MLP picked <strong>{}</strong> in {n} of {scored} scored segment(s).</p>",
                esc(name)
            )
        })
        .unwrap_or_default();
    let similar = o
        .similar
        .iter()
        .map(|s| {
            format!(
                "{} <span class=\"score\">{:.2}</span>",
                esc(&s.speaker),
                s.score
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let body = format!(
        r#"<h1>Clip segments</h1>
<h2 id="recording-title">{title}</h2>
<div class="facts"><span>{dur:.2} s</span><span>{nseg} segment(s) of {seg} s</span>
<span>{rate} Hz</span><span>analysed {when}</span>{tail}</div>
<section class="card verdict" id="verdict" data-recording-id="{id}" data-title="{title}"
  data-verdict="{verdict_attr}" data-audio="/audio/{id}/full.wav">
  <h2>The whole recording</h2>
  <p><audio controls preload="none" src="/audio/{id}/full.wav" id="full-player"></audio></p>
  <p>Open-set verdict (is it an enrolled speaker at all?): <span id="verdict-open-set">{open_set}</span></p>
  {mlp_verdict}{gmm_verdict}{vote_text}
  <p>Sounds most like: {similar}</p>
</section>
{timeline}
{enrol}
<table id="segments">
<thead><tr><th>#</th><th>Time (s)</th><th>Listen</th><th>Neural network (MLP) · probability</th>
<th>GMM ({gmm_name})</th><th>Most similar (cosine)</th><th>Verdict (open set)</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="hint">JSON of this page: <a href="/api/recordings/{id}">/api/recordings/{id}</a>.
Kept in the server's memory for a while; nothing is written to disk.</p>"#,
        title = esc(&rec.title),
        timeline = super::timeline::section(diarization, &format!("/audio/{id}/full.wav")),
        enrol = super::enrol::form_html(state, id),
        open_set = verdict_html(o.verdict.as_ref()),
        tail = match r.segments.last() {
            Some(last) if r.duration - last.end > 1e-3 => format!(
                "<span>the last {:.2} s, under half a segment, counts in the whole only</span>",
                r.duration - last.end
            ),
            _ => String::new(),
        },
        dur = r.duration,
        nseg = r.segments.len(),
        seg = seconds_text(rec.segment_seconds),
        rate = rec.audio.sample_rate,
        when = rec
            .created
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| format!("<time data-epoch=\"{}\">just now</time>", d.as_secs()))
            .unwrap_or_default(),
        verdict_attr = esc(&o
            .by(ModelKind::Mlp)
            .or_else(|| models.headline_gmm().and_then(|k| o.by(k)))
            .map(|g| g.name.clone())
            .unwrap_or_default()),
    );
    layout(state, &format!("Segments of {}", rec.title), "", &body)
}

fn cell_colour(s: f32) -> (String, &'static str) {
    // White at 0 or below, deep blue at 1.
    let t = s.clamp(0.0, 1.0);
    let light = 97.0 - 55.0 * t;
    let ink = if light < 62.0 { "#fff" } else { "#1d2433" };
    (format!("hsl(222,65%,{light:.0}%)"), ink)
}

/// The enrolled speakers.
pub fn celebrities(state: &AppState) -> Html<String> {
    let loaded = state.loaded();
    let c = &loaded.celebrities;
    let mut rows = String::new();
    for (i, s) in c.speakers.iter().enumerate() {
        let similar = s
            .similar
            .iter()
            .map(|(_, name, score)| {
                format!(
                    "<li>{} <span class=\"score\">{score:.2}</span></li>",
                    esc(name)
                )
            })
            .collect::<String>();
        let _ = write!(
            rows,
            "<tr data-speaker=\"{id}\"><td class=\"num\">{}</td><td><code>{id}</code></td>\
             <td class=\"name\">{}</td><td class=\"count\">{}</td><td><ol class=\"similar\">{similar}</ol></td></tr>",
            i + 1,
            esc(&s.name),
            s.clips,
            id = esc(&s.id),
        );
    }
    let matrix = if c.ids.len() <= 16 {
        let head = c
            .ids
            .iter()
            .map(|id| format!("<th>{}</th>", esc(loaded.models.display_name(id))))
            .collect::<String>();
        let mut body = String::new();
        for (i, id) in c.ids.iter().enumerate() {
            let _ = write!(body, "<tr><th>{}</th>", esc(loaded.models.display_name(id)));
            for &v in &c.matrix[i] {
                let (bg, ink) = cell_colour(v);
                let _ = write!(
                    body,
                    "<td style=\"background:{bg};color:{ink}\">{v:.2}</td>"
                );
            }
            body.push_str("</tr>");
        }
        format!(
            "<section class=\"card\"><h2>Similarity of every pair</h2>\
             <table class=\"matrix\" id=\"similarity-matrix\"><thead><tr><th></th>{head}</tr></thead>\
             <tbody>{body}</tbody></table></section>"
        )
    } else {
        String::new()
    };
    let how = if c.embedding == "supervector" {
        "MAP-adapted GMM supervectors (the GMM-UBM's speaker models)"
    } else {
        "mean standardised 52-dim clip vectors"
    };
    let body = format!(
        r#"<h1>Known celebrities</h1>
<p class="lead">The {n} speakers the models were trained on, the training clips of each, and
the three other enrolled speakers each one sounds most like: cosine similarity of their
{how}, centred on the mean speaker (1 = the same direction, 0 = unrelated).</p>
<table id="celebrities"><thead><tr><th>#</th><th>Id</th><th>Name</th><th>Training clips</th>
<th>Most similar speakers</th></tr></thead><tbody>{rows}</tbody></table>
{matrix}"#,
        n = c.speakers.len(),
    );
    layout(state, "Celebrities", "Celebrities", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes_text(25 * 1024 * 1024), "25 MB");
        assert_eq!(bytes_text(1536 * 1024), "1.5 MB");
        assert_eq!(bytes_text(2048), "2 KB");
        assert_eq!(bytes_text(10), "10 bytes");
    }
}
