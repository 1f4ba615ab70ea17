//! The timeline of a recording's page: who speaks when, one row per speaker, each
//! turn a button that plays the recording from the turn's start to its end
//! (app.js). Plain HTML and CSS, no external assets.

use std::fmt::Write as _;

use speaker_similarity::diarize::Diarization;

use super::diarize::PageDiarization;
use super::html::esc;

/// Colours of the speakers, in order of first speech (then again).
const COLOURS: [&str; 8] = [
    "#2f5bd3", "#d9822b", "#1b7f4b", "#b3261e", "#7b4fc9", "#0f8b9c", "#a8760a", "#c2418f",
];

/// CSS of the timeline.
pub const CSS: &str = r#"
#timeline .tl-row { display:flex; align-items:center; gap:.6rem; margin:.25rem 0; }
#timeline .tl-name { width:11rem; flex:none; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; font-size:.9rem; }
#timeline .tl-track { position:relative; flex:1; height:28px; background:#eef1f6; border-radius:4px; }
#timeline .turn { position:absolute; top:2px; bottom:2px; min-width:3px; padding:0 .2rem; border:0;
  border-radius:3px; color:#fff; font-size:.72rem; overflow:hidden; white-space:nowrap; text-overflow:ellipsis; }
#timeline .turn.playing { outline:3px solid #1d2433; z-index:1; }
#timeline .tl-axis { position:relative; height:1.2rem; margin-left:11.6rem; font-size:.75rem; color:var(--muted); }
#timeline .tl-axis span { position:absolute; transform:translateX(-50%); }
#timeline .tl-legend { display:flex; flex-wrap:wrap; gap:.3rem 1.2rem; margin:.3rem 0 .6rem; }
#timeline .swatch { display:inline-block; width:.8rem; height:.8rem; border-radius:2px; margin-right:.3rem; vertical-align:middle; }
"#;

/// A tick spacing of 1, 2 or 5 times a power of ten giving at most ~10 ticks.
fn tick_step(duration: f64) -> f64 {
    let raw = (duration / 10.0).max(1e-3);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * p)
}

fn pct(x: f64, duration: f64) -> f64 {
    (100.0 * x / duration.max(1e-9)).clamp(0.0, 100.0)
}

fn chart(d: &Diarization, audio: &str) -> String {
    let mut rows = String::new();
    for (k, s) in d.speakers.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut turns = String::new();
        for t in d.turns.iter().filter(|t| t.label == s.label) {
            let _ = write!(
                turns,
                "<button type=\"button\" class=\"turn\" data-start=\"{start:.3}\" data-end=\"{end:.3}\" \
                 data-label=\"{label}\" data-speaker=\"{speaker}\" data-name=\"{name}\" \
                 style=\"left:{left:.3}%;width:{width:.3}%;background:{colour}\" \
                 title=\"{name}, {start:.2}–{end:.2} s: click to play\">{name}</button>",
                start = t.start,
                end = t.end,
                label = esc(&t.label),
                speaker = esc(t.speaker.as_deref().unwrap_or("")),
                name = esc(&s.name),
                left = pct(t.start, d.duration),
                width = pct(t.end, d.duration) - pct(t.start, d.duration),
            );
        }
        let _ = write!(
            rows,
            "<div class=\"tl-row\" data-label=\"{label}\"><span class=\"tl-name\" title=\"{name}\">{name}</span>\
             <div class=\"tl-track\">{turns}</div></div>",
            label = esc(&s.label),
            name = esc(&s.name),
        );
    }
    let step = tick_step(d.duration);
    let mut axis = String::new();
    let mut t = 0.0;
    while t <= d.duration + 1e-9 {
        let _ = write!(
            axis,
            "<span style=\"left:{:.3}%\">{}</span>",
            pct(t, d.duration),
            if step >= 1.0 {
                format!("{t:.0} s")
            } else {
                format!("{t:.1} s")
            }
        );
        t += step;
    }
    let legend = d
        .speakers
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let what = match &s.speaker {
                Some(id) => format!("enrolled <code>{}</code>", esc(id)),
                None => "not an enrolled speaker".to_string(),
            };
            format!(
                "<span class=\"tl-speaker\" data-label=\"{label}\"><span class=\"swatch\" style=\"background:{c}\"></span>\
                 <strong>{name}</strong> <span class=\"score\">{secs:.1} s · {what}</span></span>",
                label = esc(&s.label),
                c = COLOURS[k % COLOURS.len()],
                name = esc(&s.name),
                secs = s.seconds,
            )
        })
        .collect::<String>();
    format!(
        "<p class=\"hint\">{n} speaker(s) in {turns} turn(s), {speech:.1} s of speech in {dur:.1} s. \
         Click a turn to hear it.</p>\
         <div class=\"tl-legend\">{legend}</div>\
         <audio id=\"timeline-player\" controls preload=\"auto\" src=\"{audio}\"></audio>\
         <div class=\"tl-rows\">{rows}</div><div class=\"tl-axis\">{axis}</div>",
        n = d.speakers.len(),
        turns = d.turns.len(),
        speech = d.speech_seconds,
        dur = d.duration,
        audio = esc(audio),
    )
}

/// The timeline section of a recording's page; `audio` is the URL of the whole
/// recording.
pub fn section(d: &PageDiarization, audio: &str) -> String {
    let (turns, speakers, inner) = match d {
        Ok(d) if d.turns.is_empty() => (
            0,
            0,
            "<p id=\"timeline-empty\">No speech found: nobody to place on a timeline.</p>"
                .to_string(),
        ),
        Ok(d) => (d.turns.len(), d.speakers.len(), chart(d, audio)),
        Err(why) => (
            0,
            0,
            format!(
                "<p id=\"timeline-empty\">No timeline for this recording: {}</p>",
                esc(why)
            ),
        ),
    };
    format!(
        "<section class=\"card\" id=\"timeline\" data-turns=\"{turns}\" data-speakers=\"{speakers}\">\
         <h2>Who speaks when</h2>{inner}</section>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use speaker_similarity::diarize::{SpeakerSummary, SpeakerTurn};

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(12.0), 2.0);
        assert_eq!(tick_step(100.0), 10.0);
        assert_eq!(tick_step(600.0), 100.0);
        assert!((tick_step(3.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn every_turn_is_a_button_with_its_times_and_name() {
        let turn = |start: f64, end: f64, label: &str, speaker: Option<&str>| SpeakerTurn {
            start,
            end,
            label: label.into(),
            speaker: speaker.map(Into::into),
            score: speaker.map(|_| 3.0),
            margin: 1.0,
        };
        let d = Diarization {
            file: "x.wav".into(),
            duration: 10.0,
            speech_seconds: 8.0,
            windows: 10,
            speakers: vec![
                SpeakerSummary {
                    label: "spk01".into(),
                    speaker: Some("spk01".into()),
                    name: "Ada <Voicewell>".into(),
                    seconds: 5.0,
                },
                SpeakerSummary {
                    label: "unknown_1".into(),
                    speaker: None,
                    name: "unknown speaker 1".into(),
                    seconds: 3.0,
                },
            ],
            turns: vec![
                turn(0.0, 2.5, "spk01", Some("spk01")),
                turn(3.0, 6.0, "unknown_1", None),
                turn(7.5, 10.0, "spk01", Some("spk01")),
            ],
        };
        let h = section(&Ok(d), "/audio/ab/full.wav");
        assert!(h.contains("data-turns=\"3\" data-speakers=\"2\""), "{h}");
        assert_eq!(
            h.matches("<button type=\"button\" class=\"turn\"").count(),
            3
        );
        assert!(h.contains("data-start=\"3.000\" data-end=\"6.000\" data-label=\"unknown_1\""));
        assert!(h.contains("left:30.000%;width:30.000%"), "{h}");
        assert!(h.contains(">unknown speaker 1</button>"));
        assert!(h.contains("Ada &lt;Voicewell&gt;"), "names are escaped");
        assert!(!h.contains("<Voicewell>"));
        let none = section(&Err("too short".into()), "/a");
        assert!(none.contains("data-turns=\"0\"") && none.contains("too short"));
    }
}
