//! Charts: each kind renders, holds what it should, and rejects bad input.

use ndarray::Array2;
use speaker_similarity::audio::Audio;
use speaker_similarity::plot::{self, probit};
use speaker_similarity::similarity::{det_curve, Similar, Trial};
use speaker_similarity::Error;

/// plotters writes each text element's content on a line of its own.
fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n<"))
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

#[test]
fn probit_matches_scipy_norm_ppf() {
    // Acklam's approximation (relative error below 1.2e-9).
    // scipy.stats.norm.ppf at these probabilities.
    for (p, z) in [
        (0.001, -3.090232306167813),
        (0.025, -1.959963984540054),
        (0.3, -0.5244005127080407),
        (0.5, 0.0),
        (0.9, 1.2815515655446004),
        (0.999, 3.090232306167813),
    ] {
        assert!((probit(p) - z).abs() < 1e-8, "{p}: {} vs {z}", probit(p));
    }
    assert_eq!(probit(0.0), f64::NEG_INFINITY);
    assert_eq!(probit(1.0), f64::INFINITY);
}

#[test]
fn histogram_has_one_bar_per_bin_and_the_labels() {
    let values: Vec<f64> = (0..100).map(|i| 1.0 + (i % 17) as f64 * 0.1).collect();
    let c = plot::histogram(&values, 12, "Clip durations", "seconds").unwrap();
    let svg = c.svg();
    assert!(svg.contains("Clip durations") && svg.contains("seconds") && svg.contains("count"));
    // 12 bars filled with the first palette colour.
    assert_eq!(
        count(svg, "fill=\"#1F77B4\""),
        12,
        "{}",
        &svg[..svg.len().min(3000)]
    );
    assert!(matches!(
        plot::histogram(&[], 3, "", ""),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        plot::histogram(&[1.0], 0, "", ""),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        plot::histogram(&[f64::NAN], 3, "", ""),
        Err(Error::NonFinite { .. })
    ));
    // A single repeated value still draws.
    plot::histogram(&[2.0; 5], 4, "same", "s").unwrap();
}

#[test]
fn heatmap_draws_every_cell_and_averages_wide_inputs() {
    let m = Array2::from_shape_fn((13, 50), |(r, c)| (r * c) as f32);
    let svg = plot::heatmap(m.view(), "MFCC", "coefficient", Some(0.016))
        .unwrap()
        .svg()
        .to_string();
    assert!(svg.contains("MFCC") && svg.contains("time (s)"));
    // 13 x 50 cells + 64 colour-bar steps.
    assert_eq!(count(&svg, "<rect"), 13 * 50 + 64 + 1);
    let wide = Array2::from_shape_fn((4, 1000), |(r, c)| (r + c) as f32);
    let svg = plot::heatmap(wide.view(), "wide", "row", None)
        .unwrap()
        .svg()
        .to_string();
    // 1000 columns averaged in groups of 3 -> 334 columns.
    assert_eq!(count(&svg, "<rect"), 4 * 334 + 64 + 1);
    let empty = Array2::<f32>::zeros((0, 3));
    assert!(plot::heatmap(empty.view(), "", "", None).is_err());
}

#[test]
fn training_curves_show_train_solid_and_validation_dashed() {
    let loss: Vec<f32> = (0..30).map(|i| 3.0 / (1.0 + i as f32)).collect();
    let acc: Vec<f32> = (0..30).map(|i| i as f32 / 30.0).collect();
    let c = plot::training_curves(&loss, &acc, &loss, &acc).unwrap();
    let svg = c.svg();
    assert!(svg.contains("Loss") && svg.contains("Accuracy") && svg.contains("Epoch"));
    assert!(has_text(svg, "Train") && has_text(svg, "Val"));
    assert!(plot::training_curves(&loss, &acc[..3], &[], &[]).is_err());
    assert!(plot::training_curves(&loss, &acc, &loss[..2], &acc[..2]).is_err());
    plot::training_curves(&loss, &acc, &[], &[]).unwrap();
}

#[test]
fn confusion_matrix_writes_counts_and_checks_shape() {
    let labels: Vec<String> = ["ada", "ben", "cy"].iter().map(|s| s.to_string()).collect();
    let m = ndarray::array![[5usize, 1, 0], [0, 6, 0], [2, 0, 4]];
    let svg = plot::confusion_matrix(m.view(), &labels, "Confusion")
        .unwrap()
        .svg()
        .to_string();
    for l in &labels {
        assert!(svg.contains(l.as_str()));
    }
    assert_eq!(count(&svg, "<rect"), 9 + 1);
    // The five non-zero counts are written in their cells.
    for n in ["5", "1", "6", "2", "4"] {
        assert!(has_text(&svg, n), "count {n}");
    }
    assert!(plot::confusion_matrix(m.view(), &labels[..2], "x").is_err());
}

#[test]
fn similarity_det_waveform_and_bars_render() {
    let ranking = vec![
        Similar {
            speaker: "Ada Voicewell".into(),
            score: 0.82,
        },
        Similar {
            speaker: "Ben Baritone".into(),
            score: 0.41,
        },
        Similar {
            speaker: "Cy Squeak".into(),
            score: -0.1,
        },
    ];
    let svg = plot::similarity_bars(&ranking, "Who do you sound like?")
        .unwrap()
        .svg()
        .to_string();
    assert!(svg.contains("Ada Voicewell") && svg.contains("0.820"));
    assert!(plot::similarity_bars(&[], "x").is_err());

    let trials: Vec<Trial> = (0..200)
        .map(|i| Trial {
            score: (i % 37) as f32 / 37.0 + if i % 5 == 0 { 0.3 } else { 0.0 },
            target: i % 5 == 0,
        })
        .collect();
    let det = det_curve(&trials).unwrap();
    let svg = plot::det_curves(&[("supervector", &det)], "DET")
        .unwrap()
        .svg()
        .to_string();
    assert!(svg.contains("supervector") && svg.contains("false alarm rate (%)"));
    assert!(plot::det_curves(&[], "x").is_err());
    // An operating point: a dot and its legend entry; without one, the same chart
    // as det_curves.
    let marked = plot::det_curves_marked(
        &[("supervector", &det)],
        &[("default threshold", 0.01, 0.3)],
        "DET",
    )
    .unwrap()
    .svg()
    .to_string();
    assert!(marked.contains("default threshold") && marked.contains("<circle"));
    let plain = plot::det_curves(&[("supervector", &det)], "DET").unwrap();
    assert_eq!(
        plot::det_curves_marked(&[("supervector", &det)], &[], "DET").unwrap(),
        plain
    );
    assert!(!plain.svg().contains("<circle"));
    assert!(plot::det_curves_marked(
        &[("supervector", &det)],
        &[("x", 0.1, f64::INFINITY)],
        "DET"
    )
    .is_err());

    let audio = Audio::new(
        (0..16000)
            .map(|i| ((i as f32) * 0.05).sin() * 0.3)
            .collect(),
        16000,
    )
    .unwrap();
    let zcr = vec![0.1f32; 32];
    let svg = plot::waveform(&audio, Some((&zcr, 512)), "A clip")
        .unwrap()
        .svg()
        .to_string();
    assert!(svg.contains("zero-crossing rate") && svg.contains("A clip"));
    // The envelope is one polygon of at most 800 columns (x2 edges): a small file.
    assert_eq!(count(&svg, "<polygon"), 1);
    assert!(svg.len() < 40_000, "{} bytes", svg.len());
    // Default-valued attributes are left out.
    assert!(!svg.contains("opacity=\"1\"") && !svg.contains("stroke=\"none\""));
    assert!(plot::waveform(&Audio::new(vec![], 16000).unwrap(), None, "x").is_err());

    let names: Vec<String> = (0..12).map(|i| format!("model{i}")).collect();
    let values: Vec<f64> = (0..12).map(|i| i as f64 / 12.0).collect();
    let svg = plot::bars(&names, &values, "Accuracy", "accuracy")
        .unwrap()
        .svg()
        .to_string();
    assert!(svg.contains("model11") && svg.contains("0.917"));
    assert!(plot::bars(&names[..2], &values, "x", "y").is_err());

    // Many bars: labelled on the axis, but their values would overlap, so not written.
    let n = plot::BAR_VALUE_LABELS_UP_TO + 1;
    let names: Vec<String> = (0..n).map(|i| format!("feature{i}")).collect();
    let values: Vec<f64> = (0..n).map(|i| 0.5 + i as f64 / 1000.0).collect();
    let svg = plot::bars(&names, &values, "Many", "value")
        .unwrap()
        .svg()
        .to_string();
    assert!(has_text(&svg, &format!("feature{}", n - 1)));
    assert!(!svg.contains("0.501"), "values written on {n} bars");
}

#[test]
fn save_writes_svg_and_png_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let c = plot::histogram(&[1.0, 2.0, 3.0], 3, "h", "x").unwrap();
    c.save(dir.path().join("h.svg")).unwrap();
    assert!(std::fs::read_to_string(dir.path().join("h.svg"))
        .unwrap()
        .starts_with("<svg"));
    assert!(matches!(
        c.save(dir.path().join("h.jpg")),
        Err(Error::InvalidParameter { .. })
    ));
    let png = dir.path().join("h.png");
    match c.save(&png) {
        Ok(()) => {
            let bytes = std::fs::read(&png).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
            // Width and height in the IHDR chunk.
            let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            assert_eq!((w, h), c.size());
            assert!(png_feature(), "PNG written without the png feature");
        }
        Err(Error::Plot { stage, reason }) => {
            assert!(!png_feature(), "{reason}");
            assert_eq!(stage, "encoding the PNG");
            assert!(reason.contains("png"));
            assert!(!png.exists());
        }
        Err(e) => panic!("{e}"),
    }
}

/// Whether this build has the `png` feature (on in workspace builds: the app enables it).
fn png_feature() -> bool {
    cfg!(feature = "png")
}

#[test]
fn lines_draw_every_series_with_its_legend_and_reject_bad_input() {
    let a: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, -(i as f64).ln_1p())).collect();
    let b: Vec<(f64, f64)> = (0..5).map(|i| (i as f64 * 4.0, -1.0)).collect();
    let svg = plot::lines(
        &[("k-means", &a), ("k-means++", &b)],
        "EM",
        "iteration",
        "lower bound",
    )
    .unwrap()
    .svg()
    .to_string();
    assert!(has_text(&svg, "k-means") && has_text(&svg, "k-means++"));
    assert!(svg.contains("iteration") && svg.contains("lower bound"));
    // One polyline per series, plus one per legend entry, in the series' colours.
    assert_eq!(count(&svg, "stroke=\"#1F77B4\" stroke-width=\"2\""), 2);
    assert_eq!(count(&svg, "stroke=\"#FF7F0E\" stroke-width=\"2\""), 2);
    assert!(
        svg.contains("points=\"109,56 144,133 "),
        "the first series starts top left"
    );
    assert!(
        svg.contains("opacity=\"0.9\" fill=\"#FFFFFF\""),
        "a legend box"
    );
    // A single point is drawn as a dot.
    let one = [(1.0, 2.0)];
    let svg = plot::lines(&[("one", &one)], "", "", "")
        .unwrap()
        .svg()
        .to_string();
    assert_eq!(count(&svg, "<circle"), 1);
    // Unnamed series: no legend box at all.
    let svg = plot::lines(&[("", &a), ("", &b)], "", "", "")
        .unwrap()
        .svg()
        .to_string();
    assert_eq!(count(&svg, "stroke=\"#1F77B4\" stroke-width=\"2\""), 1);
    assert!(!svg.contains("opacity=\"0.85\" fill=\"#FFFFFF\""));
    assert!(plot::lines(&[], "", "", "").is_err());
    assert!(plot::lines(&[("empty", &[])], "", "", "").is_err());
    assert!(matches!(
        plot::lines(&[("nan", &[(0.0, f64::NAN)])], "", "", ""),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn histograms_share_bins_and_normalise_each_sample() {
    // 4 target values in the top bin, 8 non-target values spread over two bins.
    let target = [0.95, 0.96, 0.97, 1.0];
    let other = [0.0, 0.0, 0.0, 0.0, 0.01, 0.02, 0.03, 0.04];
    let svg = plot::histograms(
        &[("target", &target), ("non-target", &other)],
        10,
        "S",
        "cosine",
    )
    .unwrap()
    .svg()
    .to_string();
    assert!(has_text(&svg, "target") && has_text(&svg, "non-target"));
    assert!(svg.contains("share per bin"));
    // Bars only where a sample has values: 1 target bin, 1 non-target bin (all
    // of 0.0..0.04 falls in the first of 10 bins over 0..1), each reaching the
    // same height (share 1), plus one legend box each.
    assert_eq!(count(&svg, "opacity=\"0.5\" fill=\"#1F77B4\""), 2);
    assert_eq!(count(&svg, "opacity=\"0.5\" fill=\"#FF7F0E\""), 2);
    // The two bars are equally tall; the legend sits above both (the headroom it
    // needs), covering neither.
    let (t, o) = (
        tallest_rect(&svg, "opacity=\"0.5\" fill=\"#1F77B4\""),
        tallest_rect(&svg, "opacity=\"0.5\" fill=\"#FF7F0E\""),
    );
    assert_eq!((t[1], t[3]), (o[1], o[3]), "{t:?} {o:?}");
    assert!(o[0] < 200.0 && t[0] > 600.0, "{t:?} {o:?}");
    let legend = tallest_rect(&svg, "opacity=\"0.9\" fill=\"#FFFFFF\"");
    assert!(
        legend[1] + legend[3] <= t[1],
        "legend {legend:?} over the bars at {t:?}"
    );
    assert!(plot::histograms(&[], 3, "", "").is_err());
    assert!(plot::histograms(&[("a", &[1.0])], 0, "", "").is_err());
    assert!(plot::histograms(&[("a", &[])], 3, "", "").is_err());
    assert!(matches!(
        plot::histograms(&[("a", &[f64::INFINITY])], 3, "", ""),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn heatmap_colour_bar_labels_suit_the_range() {
    // A cosine-similarity-like matrix in [-0.5, 1]: labels need decimals.
    let m = Array2::from_shape_fn((3, 3), |(r, c)| if r == c { 1.0 } else { -0.5 });
    let svg = plot::heatmap(m.view(), "similarity", "speaker", None)
        .unwrap()
        .svg()
        .to_string();
    assert!(has_text(&svg, "0.50") || has_text(&svg, "-0.50"), "{svg}");
}

#[test]
fn similarity_matrix_labels_rows_and_columns_and_writes_values() {
    let names: Vec<String> = ["ada", "ben", "cy"].iter().map(|s| s.to_string()).collect();
    let m = Array2::from_shape_fn(
        (3, 3),
        |(r, c)| if r == c { 1.0 } else { 0.1 * (r + c) as f32 },
    );
    let svg = plot::similarity_matrix(m.view(), &names, "Speakers")
        .unwrap()
        .svg()
        .to_string();
    for name in &names {
        assert!(has_text(&svg, name), "{name}");
    }
    // 9 cells, the largest value yellow and the smallest dark.
    assert!(has_text(&svg, "1.00") && has_text(&svg, "0.10") && has_text(&svg, "0.30"));
    assert_eq!(
        count(&svg, "fill=\"#FDE725\""),
        3,
        "the diagonal is the maximum"
    );
    assert_eq!(count(&svg, "fill=\"#440154\""), 2, "0.1 at (0,1) and (1,0)");
    assert!(plot::similarity_matrix(m.view(), &names[..2], "x").is_err());
    let bad = Array2::from_elem((3, 3), f32::NAN);
    assert!(matches!(
        plot::similarity_matrix(bad.view(), &names, "x"),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn det_curves_of_many_trials_stay_small() {
    // 20 000 trials: one DET point per distinct score.
    let trials: Vec<Trial> = (0..20_000)
        .map(|i| {
            let target = i % 5 == 0;
            let noise = ((i * 7919) % 10_007) as f32 / 10_007.0;
            Trial {
                score: noise + if target { 0.6 } else { 0.0 },
                target,
            }
        })
        .collect();
    let det = det_curve(&trials).unwrap();
    assert!(det.len() > 5_000, "{} points", det.len());
    let svg = plot::det_curves(&[("many", &det)], "DET")
        .unwrap()
        .svg()
        .to_string();
    let line = svg
        .lines()
        .find(|l| l.contains("stroke=\"#1F77B4\" stroke-width=\"2\"") && l.contains("points="))
        .expect("the curve");
    let drawn = line.matches(',').count();
    assert!(drawn < 2_000, "{drawn} points drawn");
    assert!(drawn > 50, "{drawn} points drawn");
    assert!(svg.len() < 60_000, "{} bytes", svg.len());
}

/// `[x, y, width, height]` of the tallest `<rect` with `attrs`.
fn tallest_rect(svg: &str, attrs: &str) -> [f64; 4] {
    let num = |line: &str, key: &str| -> f64 {
        line.split(&format!(" {key}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN)
    };
    svg.lines()
        .filter(|l| l.starts_with("<rect") && l.contains(attrs))
        .map(|l| [num(l, "x"), num(l, "y"), num(l, "width"), num(l, "height")])
        .max_by(|a, b| a[3].total_cmp(&b[3]))
        .unwrap_or_else(|| panic!("no <rect with {attrs}"))
}

/// Texts written exactly `text` (plotters puts each text's content on its own line).
fn texts(svg: &str, text: &str) -> usize {
    count(svg, &format!(">\n{text}\n<"))
}

#[test]
fn det_ticks_are_written_once_per_axis() {
    let trials: Vec<Trial> = (0..400)
        .map(|i| Trial {
            score: (i % 41) as f32 / 41.0 + if i % 4 == 0 { 0.4 } else { 0.0 },
            target: i % 4 == 0,
        })
        .collect();
    let det = det_curve(&trials).unwrap();
    let svg = plot::det_curves(&[("cosine", &det)], "DET")
        .unwrap()
        .svg()
        .to_string();
    for tick in ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "40", "60"] {
        assert_eq!(texts(&svg, tick), 2, "tick {tick}: once on each axis");
    }
}

#[test]
fn long_column_labels_stand_upright_below_the_matrix_and_get_room() {
    let short: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let long: Vec<String> = (0..12)
        .map(|i| format!("Wendell Baritonne-Pitchford {i}"))
        .collect();
    let counts = Array2::from_shape_fn((12, 12), |(r, c)| usize::from(r == c) * 5);
    let a = plot::confusion_matrix(counts.view(), &short, "c").unwrap();
    let b = plot::confusion_matrix(counts.view(), &long, "c").unwrap();
    // Every name once, upright (reading bottom-up, ending at the axis).
    for name in &long {
        assert_eq!(texts(b.svg(), name), 2, "{name}: a row and a column label");
    }
    // 12 column labels and the axis description "true".
    assert_eq!(count(b.svg(), "rotate(270"), 13);
    assert!(!b.svg().contains("rotate(90"));
    // The label areas grow with the names: the canvas is taller and wider.
    assert!(b.size().1 > a.size().1 + 100 && b.size().0 > a.size().0 + 100);
    // A similarity matrix of speakers names them the same way.
    let sim = Array2::from_shape_fn((12, 12), |(r, c)| if r == c { 1.0 } else { 0.2 });
    let s = plot::similarity_matrix(sim.view(), &long, "s").unwrap();
    assert_eq!(count(s.svg(), "rotate(270"), 12);
}

#[test]
fn integer_axes_never_repeat_a_tick() {
    // 5 rows: plotters would put ticks at 0, 0.5, 1, ...; each row number once.
    // Values in [0, 0.44]: the colour bar's labels have two decimals.
    let m = Array2::from_shape_fn((5, 40), |(r, c)| (r + c) as f32 / 100.0);
    let svg = plot::heatmap(m.view(), "h", "row", None)
        .unwrap()
        .svg()
        .to_string();
    for row in ["0", "1", "2", "3", "4"] {
        assert!(
            texts(&svg, row) <= 1,
            "row {row} labelled {} times",
            texts(&svg, row)
        );
    }
    // 5 epochs: each epoch number at most once per panel.
    let loss = [0.9f32, 0.8, 0.7, 0.6, 0.5];
    let acc = [0.5f32, 0.6, 0.7, 0.8, 0.9];
    let svg = plot::training_curves(&loss, &acc, &[], &[])
        .unwrap()
        .svg()
        .to_string();
    for epoch in ["1", "2", "3", "4", "5"] {
        assert!(
            texts(&svg, epoch) <= 2,
            "epoch {epoch} labelled {} times",
            texts(&svg, epoch)
        );
    }
}

#[test]
fn legends_move_off_the_data() {
    // A rising line fills the upper right corner: the legend takes another.
    let rising: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, i as f64)).collect();
    let svg = plot::lines(&[("rising", &rising)], "t", "x", "y")
        .unwrap()
        .svg()
        .to_string();
    let legend = svg
        .lines()
        .find(|l| l.starts_with("<rect") && l.contains("opacity=\"0.9\""))
        .expect("a legend box");
    let x: f64 = legend
        .split("x=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!(
        x < 410.0,
        "legend at x = {x}, over the line's upper right end: {legend}"
    );
}
