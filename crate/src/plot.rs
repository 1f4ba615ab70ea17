//! Charts as SVG (shown inline in Jupyter with the evcxr kernel) or PNG files.
//!
//! Every function returns a [`Chart`]: call [`Chart::evcxr_display`] (or end a notebook
//! cell with the chart value) to show it inline, [`Chart::save`] to write a `.svg` —
//! or a `.png` when the crate is built with the `png` feature, as the command line is.
//!
//! ```
//! use speaker_similarity::plot;
//! # fn main() -> speaker_similarity::Result<()> {
//! let chart = plot::histogram(&[1.2, 2.0, 2.1, 3.5, 2.2], 4, "Clip durations", "seconds")?;
//! assert!(chart.svg().starts_with("<svg"));
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use ndarray::ArrayView2;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::RangedCoordusize;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::audio::Audio;
use crate::error::{Error, Result};
use crate::similarity::{DetPoint, Similar};

/// Default chart size in pixels.
pub const SIZE: (u32, u32) = (820, 460);

/// A rendered chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    svg: String,
    size: (u32, u32),
}

impl Chart {
    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Show the chart inline in a Jupyter notebook running the evcxr kernel.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.svg
        );
    }

    /// Write the chart to `path`: SVG for `.svg`; PNG for `.png` (needs the `png`
    /// feature). The file appears complete or not at all.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => crate::audio::write_atomic(path, self.svg.as_bytes()),
            Some("png") => crate::audio::write_atomic(path, &self.png()?),
            _ => Err(Error::param(
                "path",
                format!("{}: charts are saved as .svg or .png", path.display()),
            )),
        }
    }

    /// The chart as PNG bytes (rasterised with resvg; needs the `png` feature).
    #[cfg(feature = "png")]
    pub fn png(&self) -> Result<Vec<u8>> {
        use std::sync::OnceLock;
        static FONTS: OnceLock<std::sync::Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
        let fonts = FONTS.get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_system_fonts();
            // Charts ask for "sans-serif": map it to a sans font this system has.
            let families: Vec<String> = db
                .faces()
                .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
                .collect();
            let preferred = [
                "DejaVu Sans",
                "Liberation Sans",
                "Arial",
                "Helvetica",
                "Noto Sans",
            ];
            if let Some(name) = preferred
                .iter()
                .find(|p| families.iter().any(|f| f == *p))
                .map(|p| p.to_string())
                .or_else(|| families.first().cloned())
            {
                db.set_sans_serif_family(name);
            }
            std::sync::Arc::new(db)
        });
        let opt = resvg::usvg::Options {
            fontdb: fonts.clone(),
            font_family: fonts
                .family_name(&resvg::usvg::fontdb::Family::SansSerif)
                .to_string(),
            ..Default::default()
        };
        let tree = resvg::usvg::Tree::from_str(&self.svg, &opt).map_err(|e| Error::Plot {
            stage: "parsing the SVG",
            reason: e.to_string(),
        })?;
        let mut pixmap =
            resvg::tiny_skia::Pixmap::new(self.size.0, self.size.1).ok_or_else(|| Error::Plot {
                stage: "encoding the PNG",
                reason: format!("a chart of {}x{} pixels is empty", self.size.0, self.size.1),
            })?;
        resvg::render(&tree, Default::default(), &mut pixmap.as_mut());
        pixmap.encode_png().map_err(|e| Error::Plot {
            stage: "encoding the PNG",
            reason: e.to_string(),
        })
    }

    /// The chart as PNG bytes — unavailable: the crate was built without `png`.
    #[cfg(not(feature = "png"))]
    pub fn png(&self) -> Result<Vec<u8>> {
        Err(Error::Plot {
            stage: "encoding the PNG",
            reason: "PNG output needs the `png` feature of speaker_similarity (the command \
                     line has it); save as .svg instead"
                .into(),
        })
    }
}

fn plot_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Plot {
        stage: "drawing",
        reason: e.to_string(),
    }
}

/// Render with a drawing closure on an SVG backend of `size`.
fn render<F>(size: (u32, u32), draw: F) -> Result<Chart>
where
    F: FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(Chart {
        svg: compact_svg(&svg),
        size,
    })
}

/// Drop the attributes plotters writes with their SVG default values
/// (`opacity="1"`, `stroke="none"`): a third of the bytes of a heat map, whose
/// cells are one `<rect>` each, and nothing changes on screen.
fn compact_svg(svg: &str) -> String {
    svg.replace(" opacity=\"1\"", "")
        .replace(" stroke=\"none\"", "")
}

fn check_finite(values: impl IntoIterator<Item = f64>, what: &str) -> Result<()> {
    for (i, v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::NonFinite {
                what: what.to_string(),
                index: i,
                value: v as f32,
            });
        }
    }
    Ok(())
}

/// Line colours, in order.
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Pixel height of the text plotters writes for a font of `size` (its SVG backend
/// writes `font-size = size / 1.24`).
fn font_px(size: f64) -> f64 {
    size / 1.24
}

/// Estimated width in pixels of `text` in a sans-serif font `px` pixels high, from
/// DejaVu Sans' advance widths: the wide sans-serif that Linux systems, Chromium and
/// resvg (PNG) fall back to. Narrower fonts (Arial, Helvetica) only leave more room.
/// Label areas, chart sizes and legend boxes are sized from it.
fn text_width(text: &str, px: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | 'I' | '!' | '|' | '.' | ',' | ':' | ';' | '\'' | '`' => 0.31,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '-' | '/' => 0.42,
            'm' | 'M' | 'W' | '%' | '@' => 1.0,
            'w' => 0.82,
            'a'..='z' | '0'..='9' | '_' | '+' | '=' | '<' | '>' | '?' | '$' | '#' | '*' => 0.65,
            'A'..='Z' | '&' => 0.79,
            // Other Latin letters (accented): about an upper-case letter.
            c if (c as u32) < 0x250 => 0.75,
            // CJK and other wide scripts: a full em.
            _ => 1.0,
        })
        .sum::<f64>()
        * px
}

/// The widest of `labels` in pixels at plotters font `size`.
fn widest(labels: &[String], size: f64) -> f64 {
    labels
        .iter()
        .map(|l| text_width(l, font_px(size)))
        .fold(0.0, f64::max)
}

/// A tick label for integer positions only (epochs, rows): empty elsewhere, so an axis
/// with fewer integers than ticks never prints one twice.
fn integer_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Draw `labels` under the columns of a chart turned upright (reading bottom-up, the
/// end of each label at the axis, as matplotlib's vertical ticks), one per
/// `SegmentValue::CenterOf(i)`: plotters centres rotated tick labels on their tick,
/// which puts half of each label inside the plot.
fn upright_column_labels(
    root: &DrawingArea<SVGBackend, Shift>,
    column_pixels: impl Iterator<Item = (i32, i32)>,
    labels: &[String],
    size: f64,
) -> Result<()> {
    let style = TextStyle::from(("sans-serif", size).into_font())
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for ((x, y), label) in column_pixels.zip(labels) {
        root.draw(&Text::new(label.clone(), (x, y + 8), style.clone()))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy)]
enum Glyph {
    Line(RGBColor),
    Dashed(RGBColor),
    Patch(RGBAColor),
    Dot(RGBColor),
}

/// Plotters font size of legend text, and the height of one legend row in pixels.
const LEGEND_FONT: f64 = 14.0;
const LEGEND_ROW: i32 = 18;

/// Size in pixels of the legend box of `entries`.
fn legend_size(entries: &[(String, Glyph)]) -> (i32, i32) {
    let w = entries
        .iter()
        .map(|(n, _)| text_width(n, font_px(LEGEND_FONT)))
        .fold(0.0, f64::max);
    (
        (10.0 + 24.0 + 8.0 + w + 10.0).ceil() as i32,
        8 + LEGEND_ROW * entries.len() as i32 + 4,
    )
}

/// Something drawn in a plot, in plot coordinates normalised to `[0, 1]` (y up).
#[derive(Debug, Clone, Copy)]
enum Mark {
    Segment((f64, f64), (f64, f64)),
    Rect((f64, f64), (f64, f64)),
}

impl Mark {
    /// Whether the mark meets the box `[x0, x1] x [y0, y1]`.
    fn meets(&self, x0: f64, x1: f64, y0: f64, y1: f64) -> bool {
        match *self {
            Mark::Rect((a, b), (c, d)) => {
                a.min(c) <= x1 && a.max(c) >= x0 && b.min(d) <= y1 && b.max(d) >= y0
            }
            Mark::Segment((ax, ay), (bx, by)) => {
                // Liang-Barsky clipping of the segment against the box.
                let (dx, dy) = (bx - ax, by - ay);
                let (mut t0, mut t1) = (0.0f64, 1.0f64);
                for (p, q) in [(-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)] {
                    if p == 0.0 {
                        if q < 0.0 {
                            return false;
                        }
                    } else {
                        let r = q / p;
                        if p < 0.0 {
                            t0 = t0.max(r);
                        } else {
                            t1 = t1.min(r);
                        }
                        if t0 > t1 {
                            return false;
                        }
                    }
                }
                true
            }
        }
    }
}

/// The marks of a polyline of `points`, normalised by the ranges `x` and `y`.
fn polyline_marks(
    points: impl IntoIterator<Item = (f64, f64)>,
    x: (f64, f64),
    y: (f64, f64),
) -> Vec<Mark> {
    let norm = |(px, py): (f64, f64)| ((px - x.0) / (x.1 - x.0), (py - y.0) / (y.1 - y.0));
    let pts: Vec<(f64, f64)> = points.into_iter().map(norm).collect();
    match pts.len() {
        0 => Vec::new(),
        1 => vec![Mark::Segment(pts[0], pts[0])],
        _ => pts.windows(2).map(|w| Mark::Segment(w[0], w[1])).collect(),
    }
}

/// The corners a legend may take, in order of preference.
const CORNERS: [(bool, bool); 4] = [(true, true), (false, true), (true, false), (false, false)];

/// Where a legend of `legend` pixels goes in a plot of `plot` pixels without covering
/// any of `marks`: the top-left pixel of the first free corner (upper right, upper
/// left, lower right, lower left), 6 px in from the frame, with 4 px to spare.
fn free_corner(marks: &[Mark], plot: (i32, i32), legend: (i32, i32)) -> Option<(i32, i32)> {
    let (pw, ph) = (plot.0.max(1) as f64, plot.1.max(1) as f64);
    let (lw, lh) = (legend.0 as f64, legend.1 as f64);
    CORNERS.iter().find_map(|&(right, top)| {
        let left_px = if right { pw - 6.0 - lw } else { 6.0 };
        let top_px = if top { 6.0 } else { ph - 6.0 - lh };
        // Normalised, y up, grown by 4 px.
        let x0 = (left_px - 4.0) / pw;
        let x1 = (left_px + lw + 4.0) / pw;
        let y1 = 1.0 - (top_px - 4.0) / ph;
        let y0 = 1.0 - (top_px + lh + 4.0) / ph;
        (!marks.iter().any(|m| m.meets(x0, x1, y0, y1)))
            .then_some((left_px.round() as i32, top_px.round() as i32))
    })
}

/// Headroom (fractions of the data's y span added above it) tried in turn until a
/// legend fits in a corner without covering data.
const HEADROOM: [f64; 5] = [0.0, 0.15, 0.3, 0.5, 0.8];

/// `marks` normalised to a y span grown by `headroom` above the data.
fn squeeze(marks: &[Mark], headroom: f64) -> Vec<Mark> {
    let s = |(x, y): (f64, f64)| (x, y / (1.0 + headroom));
    marks
        .iter()
        .map(|m| match *m {
            Mark::Segment(a, b) => Mark::Segment(s(a), s(b)),
            Mark::Rect(a, b) => Mark::Rect(s(a), s(b)),
        })
        .collect()
}

/// The smallest headroom from [`HEADROOM`] that frees a corner for the legend, with
/// that corner; the largest and the upper right corner when none does. `marks` are
/// normalised to the data's y span, `plot` is the plot's estimated size in pixels.
fn legend_headroom(marks: &[Mark], plot: (i32, i32), legend: (i32, i32)) -> f64 {
    for &h in &HEADROOM {
        if free_corner(&squeeze(marks, h), plot, legend).is_some() {
            return h;
        }
    }
    HEADROOM[HEADROOM.len() - 1]
}

/// Draw a legend box of `entries` on the plotting area of `chart`, in the first corner
/// that covers none of `marks` (normalised to the chart's final ranges); in the upper
/// right corner when every corner is covered.
fn draw_legend<X, Y>(
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    entries: &[(String, Glyph)],
    marks: &[Mark],
) -> Result<()>
where
    X: Ranged,
    Y: Ranged,
{
    if entries.is_empty() {
        return Ok(());
    }
    let area = chart.plotting_area().strip_coord_spec();
    let (pw, ph) = area.dim_in_pixel();
    let (lw, lh) = legend_size(entries);
    let (x, y) =
        free_corner(marks, (pw as i32, ph as i32), (lw, lh)).unwrap_or((pw as i32 - 6 - lw, 6));
    area.draw(&Rectangle::new(
        [(x, y), (x + lw, y + lh)],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(plot_err)?;
    area.draw(&Rectangle::new(
        [(x, y), (x + lw, y + lh)],
        BLACK.stroke_width(1),
    ))
    .map_err(plot_err)?;
    let font = TextStyle::from(("sans-serif", LEGEND_FONT).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (name, glyph)) in entries.iter().enumerate() {
        let cy = y + 8 + LEGEND_ROW * k as i32 + LEGEND_ROW / 2;
        let (g0, g1) = (x + 10, x + 34);
        match *glyph {
            Glyph::Line(c) => area.draw(&PathElement::new(
                vec![(g0, cy), (g1, cy)],
                c.stroke_width(2),
            )),
            Glyph::Dashed(c) => area
                .draw(&PathElement::new(
                    vec![(g0, cy), (g0 + 9, cy)],
                    c.stroke_width(2),
                ))
                .and_then(|_| {
                    area.draw(&PathElement::new(
                        vec![(g1 - 9, cy), (g1, cy)],
                        c.stroke_width(2),
                    ))
                }),
            Glyph::Patch(c) => area.draw(&Rectangle::new(
                [(g0 + 2, cy - 6), (g1 - 2, cy + 6)],
                c.filled(),
            )),
            Glyph::Dot(c) => area.draw(&Circle::new(((g0 + g1) / 2, cy), 5, c.filled())),
        }
        .map_err(plot_err)?;
        area.draw(&Text::new(name.clone(), (x + 42, cy), font.clone()))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// A histogram of `values` in `bins` equal bins (the original notebook's look at clip
/// durations).
pub fn histogram(values: &[f64], bins: usize, title: &str, x_label: &str) -> Result<Chart> {
    if values.is_empty() {
        return Err(Error::param("values", "nothing to draw"));
    }
    if bins == 0 {
        return Err(Error::param("bins", "at least one bin"));
    }
    check_finite(values.iter().copied(), "histogram values")?;
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0usize; bins];
    for &v in values {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = *counts.iter().max().unwrap_or(&1) as f64 * 1.1;
    render(SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..lo + width * bins as f64, 0f64..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("count")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = lo + width * i as f64;
                Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], COLORS[0].filled())
            }))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// A chart whose both axes are the segments `0..n` (a labelled `n x n` matrix).
type SquareGrid<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<SegmentedCoord<RangedCoordusize>, SegmentedCoord<RangedCoordusize>>,
>;

/// Layout of a labelled `n x n` matrix: label font, whether column labels stand
/// upright, label areas and canvas size, all from the widest label.
struct GridLayout {
    font: f64,
    upright: bool,
    x_area: u32,
    y_area: u32,
    size: (u32, u32),
}

/// The layout of a square grid of `labels`: cells of at least 18 px in a plot of at
/// least 460 px; column labels stand upright above `rotate_over` labels or when the
/// widest does not fit its column; label areas hold the widest label (and the axis
/// descriptions when `descs`).
fn grid_layout(labels: &[String], rotate_over: usize, descs: bool) -> GridLayout {
    let n = labels.len().max(1);
    let font = if n > 20 { 11.0 } else { 13.0 };
    let plot = (18 * n as u32).max(460);
    let wide = widest(labels, font);
    let upright = n > rotate_over || wide + 8.0 > plot as f64 / n as f64;
    let desc = if descs { 26.0 } else { 0.0 };
    let x_area = if upright {
        wide + 16.0
    } else {
        font_px(font) * 1.3 + 12.0
    } + desc;
    let y_area = wide + 16.0 + desc;
    let (x_area, y_area) = (x_area.ceil() as u32, y_area.ceil() as u32);
    // Margins 12 + 12, caption about 36 px, 14 px spare at the right.
    let size = (y_area + plot + 24 + 14, x_area + plot + 24 + 36);
    GridLayout {
        font,
        upright,
        x_area,
        y_area,
        size,
    }
}

/// Label the square grid of a labelled `n x n` matrix (`labels.len() == n`) laid out
/// by [`grid_layout`]: a label under every column (upright when the layout says so)
/// and beside every row, row 0 at the top, and optional axis descriptions `(x, y)`.
/// Shared by the confusion and similarity matrices.
fn label_square_grid(
    root: &DrawingArea<SVGBackend, Shift>,
    chart: &mut SquareGrid<'_, '_>,
    labels: &[String],
    layout: &GridLayout,
    descs: Option<(&str, &str)>,
) -> Result<()> {
    let n = labels.len();
    let upright = layout.upright;
    let label_x = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if !upright => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let label_y = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - *i].clone(),
        _ => String::new(),
    };
    let small = ("sans-serif", layout.font).into_font();
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .x_labels(n)
        .y_labels(n)
        .x_label_formatter(&label_x)
        .y_label_formatter(&label_y)
        .x_label_style(small.clone())
        .y_label_style(small);
    if let Some((x, y)) = descs {
        mesh.x_desc(x).y_desc(y);
    }
    mesh.draw().map_err(plot_err)?;
    if upright {
        let pixels: Vec<(i32, i32)> = (0..n)
            .map(|i| chart.backend_coord(&(SegmentValue::CenterOf(i), SegmentValue::Exact(0))))
            .collect();
        upright_column_labels(root, pixels.into_iter(), labels, layout.font)?;
    }
    Ok(())
}

/// The most bars [`bars`] labels with their values.
pub const BAR_VALUE_LABELS_UP_TO: usize = 16;

/// Bars with one value per label (counts per speaker, accuracies per model, ...).
/// Each bar is labelled with its value when there are at most
/// [`BAR_VALUE_LABELS_UP_TO`] bars (more would overlap).
pub fn bars(labels: &[String], values: &[f64], title: &str, y_label: &str) -> Result<Chart> {
    if labels.len() != values.len() || labels.is_empty() {
        return Err(Error::shape(
            "bar labels",
            format_args!("one per value ({}), at least one", values.len()),
            labels.len(),
        ));
    }
    check_finite(values.iter().copied(), "bar values")?;
    let top = values.iter().cloned().fold(0.0, f64::max).max(1e-9) * 1.12;
    let bottom = values.iter().cloned().fold(0.0, f64::min) * 1.12;
    let n = labels.len();
    // Labels stand upright when there are many or one does not fit under its bar.
    let font = if n > 8 { 13.0 } else { 14.0 };
    let wide = widest(labels, font);
    let plot_w = (SIZE.0 - 24 - 56) as f64;
    let upright = n > 8 || wide + 8.0 > plot_w / n as f64;
    let x_area = if upright {
        (wide + 16.0).ceil() as u32
    } else {
        42
    };
    let size = (SIZE.0, SIZE.1 - 42 + x_area);
    render(size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(x_area)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n - 1).into_segmented(), bottom..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if !upright => {
                    labels.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .x_label_style(("sans-serif", font).into_font())
            .y_desc(y_label)
            .draw()
            .map_err(plot_err)?;
        if upright {
            let pixels: Vec<(i32, i32)> = (0..n)
                .map(|i| chart.backend_coord(&(SegmentValue::CenterOf(i), bottom)))
                .collect();
            upright_column_labels(root, pixels.into_iter(), labels, font)?;
        }
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v),
                    ],
                    COLORS[i % COLORS.len()].mix(0.85).filled(),
                );
                // Gaps of 12 px between few bars, 2 px between many (thin bars read badly).
                let gap = if n > BAR_VALUE_LABELS_UP_TO { 1 } else { 6 };
                bar.set_margin(0, 0, gap, gap);
                bar
            }))
            .map_err(plot_err)?;
        if n > BAR_VALUE_LABELS_UP_TO {
            return Ok(());
        }
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                Text::new(
                    format!("{v:.3}"),
                    (SegmentValue::CenterOf(i), v),
                    TextStyle::from(("sans-serif", 14).into_font())
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// The waveform, with the zero-crossing rate per frame drawn over it on its own axis
/// (`zcr` holds one value per frame, frames `hop` samples apart).
pub fn waveform(audio: &Audio, zcr: Option<(&[f32], usize)>, title: &str) -> Result<Chart> {
    if audio.is_empty() {
        return Err(Error::param("audio", "no samples to draw"));
    }
    let sr = audio.sample_rate as f64;
    // The min/max envelope in at most ~800 columns (about one per pixel), drawn as
    // one polygon: the upper edge left to right, then the lower edge back.
    let cols = audio.samples.len().min(800);
    let per = audio.samples.len().div_ceil(cols);
    let envelope: Vec<(f64, f32, f32)> = audio
        .samples
        .chunks(per)
        .enumerate()
        .map(|(i, c)| {
            let (lo, hi) = c
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            ((i * per) as f64 / sr, lo, hi)
        })
        .collect();
    let outline: Vec<(f64, f64)> = envelope
        .iter()
        .map(|&(t, _, hi)| (t, hi as f64))
        .chain(envelope.iter().rev().map(|&(t, lo, _)| (t, lo as f64)))
        .collect();
    let peak = audio
        .samples
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-6) as f64
        * 1.05;
    let duration = audio.duration();
    if let Some((z, _)) = zcr {
        check_finite(z.iter().map(|&v| v as f64), "zero-crossing rates")?;
    }
    // The legend takes a corner free of the envelope and the ZCR curve, with headroom
    // above the data when no corner is free.
    let x_span = (0.0, duration.max(1e-9));
    let mut marks: Vec<Mark> = envelope
        .iter()
        .enumerate()
        .map(|(i, &(t, lo, hi))| {
            let t1 = envelope.get(i + 1).map_or(duration, |e| e.0);
            let y = |v: f32| (v as f64 + peak) / (2.0 * peak);
            Mark::Rect((t / x_span.1, y(lo)), (t1 / x_span.1, y(hi)))
        })
        .collect();
    let mut entries = vec![("waveform".to_string(), Glyph::Patch(COLORS[0].to_rgba()))];
    if let Some((z, hop)) = zcr {
        marks.extend(polyline_marks(
            z.iter()
                .enumerate()
                .map(|(i, &v)| ((i * hop) as f64 / sr, v as f64)),
            x_span,
            (0.0, 0.5),
        ));
        entries.push(("zero-crossing rate".to_string(), Glyph::Line(COLORS[3])));
    }
    let right = if zcr.is_some() { 60 } else { 0 };
    let plot = (
        SIZE.0 as i32 - 24 - 60 - right,
        SIZE.1 as i32 - 24 - 30 - 42,
    );
    let h = legend_headroom(&marks, plot, legend_size(&entries));
    let marks = squeeze(&marks, h);
    render(SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .right_y_label_area_size(right as u32)
            .build_cartesian_2d(0f64..duration, -peak..peak + 2.0 * peak * h)
            .map_err(plot_err)?
            .set_secondary_coord(0f64..duration, 0f64..0.5 * (1.0 + h));
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("amplitude")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                ShapeStyle {
                    color: COLORS[0].to_rgba(),
                    filled: true,
                    stroke_width: 1,
                },
            )))
            .map_err(plot_err)?;
        if let Some((z, hop)) = zcr {
            chart
                .configure_secondary_axes()
                .y_desc("zero-crossing rate")
                .draw()
                .map_err(plot_err)?;
            chart
                .draw_secondary_series(LineSeries::new(
                    z.iter()
                        .enumerate()
                        .map(|(i, &v)| ((i * hop) as f64 / sr, v as f64)),
                    COLORS[3].stroke_width(2),
                ))
                .map_err(plot_err)?;
        }
        draw_legend(&chart, &entries, &marks)?;
        Ok(())
    })
}

/// The range of `values` padded by 5 % on each side (a unit range around a
/// constant).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if hi > lo {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

/// Line chart of one or more named series of `(x, y)` points, each in its own
/// colour with a legend: EM's log-likelihood per iteration, a spectrum and its LPC
/// envelope, accuracy against a parameter. A series named `""` gets no legend entry
/// (for many similar curves, such as the filters of a mel filterbank).
///
/// ```
/// use speaker_similarity::plot;
/// # fn main() -> speaker_similarity::Result<()> {
/// let a: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, (i as f64).sqrt())).collect();
/// let b: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64 / 3.0)).collect();
/// let chart = plot::lines(&[("sqrt", &a), ("linear", &b)], "Two curves", "x", "y")?;
/// assert!(chart.svg().contains("sqrt"));
/// # Ok(())
/// # }
/// ```
///
/// Errors: no series, an empty series, or a non-finite coordinate.
pub fn lines(
    series: &[(&str, &[(f64, f64)])],
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<Chart> {
    if series.is_empty() || series.iter().any(|(_, p)| p.is_empty()) {
        return Err(Error::param("series", "nothing to draw"));
    }
    for (name, points) in series {
        check_finite(
            points.iter().flat_map(|&(x, y)| [x, y]),
            &format!("points of `{name}`"),
        )?;
    }
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = padded_range(all().map(|p| p.0));
    let (y0, y1) = padded_range(all().map(|p| p.1));
    let entries: Vec<(String, Glyph)> = series
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| !name.is_empty())
        .map(|(k, (name, _))| (name.to_string(), Glyph::Line(COLORS[k % COLORS.len()])))
        .collect();
    let marks: Vec<Mark> = series
        .iter()
        .flat_map(|(_, p)| polyline_marks(p.iter().copied(), (x0, x1), (y0, y1)))
        .collect();
    let plot = (SIZE.0 as i32 - 24 - 64, SIZE.1 as i32 - 24 - 30 - 42);
    let h = if entries.is_empty() {
        0.0
    } else {
        legend_headroom(&marks, plot, legend_size(&entries))
    };
    let marks = squeeze(&marks, h);
    render(SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1 + (y1 - y0) * h)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(plot_err)?;
        for (k, (_, points)) in series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let style = color.stroke_width(2);
            let drawn = if points.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new(points[0], 4, color.filled())))
            } else {
                chart.draw_series(LineSeries::new(points.iter().copied(), style))
            };
            drawn.map_err(plot_err)?;
        }
        draw_legend(&chart, &entries, &marks)?;
        Ok(())
    })
}

/// Overlaid histograms of several named samples on common bins, each as the share
/// of its own values per bin (so samples of different sizes compare): the scores
/// of target and non-target verification trials, for instance.
///
/// ```
/// use speaker_similarity::plot;
/// # fn main() -> speaker_similarity::Result<()> {
/// let same = [0.7, 0.8, 0.75, 0.9];
/// let other = [0.1, 0.3, 0.2, 0.0, 0.25, 0.15];
/// let chart = plot::histograms(&[("target", &same), ("non-target", &other)], 10, "Scores", "cosine")?;
/// assert!(chart.svg().contains("non-target"));
/// # Ok(())
/// # }
/// ```
///
/// Errors: no sample, an empty sample, `bins == 0`, or a non-finite value.
pub fn histograms(
    samples: &[(&str, &[f64])],
    bins: usize,
    title: &str,
    x_label: &str,
) -> Result<Chart> {
    if samples.is_empty() || samples.iter().any(|(_, v)| v.is_empty()) {
        return Err(Error::param("samples", "nothing to draw"));
    }
    if bins == 0 {
        return Err(Error::param("bins", "at least one bin"));
    }
    for (name, values) in samples {
        check_finite(values.iter().copied(), &format!("values of `{name}`"))?;
    }
    let (lo, hi) = samples
        .iter()
        .flat_map(|(_, v)| v.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let shares: Vec<Vec<f64>> = samples
        .iter()
        .map(|(_, values)| {
            let mut counts = vec![0usize; bins];
            for &v in values.iter() {
                counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
            }
            counts
                .iter()
                .map(|&c| c as f64 / values.len() as f64)
                .collect()
        })
        .collect();
    let top = (shares.iter().flatten().fold(0f64, |m, &v| m.max(v)) * 1.1).max(1e-9);
    let entries: Vec<(String, Glyph)> = samples
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let c = COLORS[k % COLORS.len()].mix(0.5);
            (name.to_string(), Glyph::Patch(c))
        })
        .collect();
    let marks: Vec<Mark> = shares
        .iter()
        .flat_map(|share| {
            share
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0.0)
                .map(|(i, &v)| {
                    let b = bins as f64;
                    Mark::Rect((i as f64 / b, 0.0), ((i + 1) as f64 / b, v / top))
                })
        })
        .collect();
    let plot = (SIZE.0 as i32 - 24 - 64, SIZE.1 as i32 - 24 - 30 - 42);
    let h = legend_headroom(&marks, plot, legend_size(&entries));
    let marks = squeeze(&marks, h);
    render(SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(lo..lo + width * bins as f64, 0f64..top * (1.0 + h))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("share per bin")
            .draw()
            .map_err(plot_err)?;
        for (k, share) in shares.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            chart
                .draw_series(
                    share
                        .iter()
                        .enumerate()
                        .filter(|(_, &s)| s > 0.0)
                        .map(|(i, &s)| {
                            let x0 = lo + width * i as f64;
                            Rectangle::new([(x0, 0.0), (x0 + width, s)], color.mix(0.5).filled())
                        }),
                )
                .map_err(plot_err)?;
        }
        draw_legend(&chart, &entries, &marks)?;
        Ok(())
    })
}

/// Viridis, sampled at 9 points and interpolated.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// A heat map of a matrix laid out as librosa lays features out: rows = coefficients
/// (drawn bottom-up, row 0 at the bottom), columns = frames. With `seconds_per_column`
/// the x axis is in seconds. Wide matrices are averaged down to at most 400 columns.
pub fn heatmap(
    data: ArrayView2<f32>,
    title: &str,
    y_label: &str,
    seconds_per_column: Option<f64>,
) -> Result<Chart> {
    let (rows, cols) = data.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::param("data", "an empty matrix"));
    }
    check_finite(data.iter().map(|&v| v as f64), "heat map values")?;
    let group = cols.div_ceil(400);
    let shown = cols.div_ceil(group);
    let mut cells = vec![0f64; rows * shown];
    for r in 0..rows {
        for c in 0..shown {
            let lo = c * group;
            let hi = (lo + group).min(cols);
            let s: f64 = (lo..hi).map(|k| data[[r, k]] as f64).sum();
            cells[r * shown + c] = s / (hi - lo) as f64;
        }
    }
    let (vmin, vmax) = cells
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if vmax > vmin { vmax - vmin } else { 1.0 };
    // Colour-bar labels: whole numbers for dB-like ranges, decimals for small ones
    // (a similarity matrix spans about 2).
    let decimals = match span {
        s if s >= 20.0 => 0,
        s if s >= 2.0 => 1,
        _ => 2,
    };
    let unit = seconds_per_column.unwrap_or(1.0) * group as f64;
    let x_max = shown as f64 * unit;
    render(SIZE, |root| {
        let (main, bar) = root.split_horizontally(SIZE.0 - 90);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..x_max, 0f64..rows as f64)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(if seconds_per_column.is_some() {
                "time (s)"
            } else {
                "frame"
            })
            .y_desc(y_label)
            .y_label_formatter(&|v| integer_label(*v))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series((0..rows).flat_map(|r| {
                let cells = &cells;
                (0..shown).map(move |c| {
                    let v = (cells[r * shown + c] - vmin) / span;
                    Rectangle::new(
                        [
                            (c as f64 * unit, r as f64),
                            ((c + 1) as f64 * unit, (r + 1) as f64),
                        ],
                        viridis(v).filled(),
                    )
                })
            }))
            .map_err(plot_err)?;
        // Colour bar.
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(46)
            .margin_bottom(54)
            .margin_right(8)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, vmin..vmin + span)
            .map_err(plot_err)?;
        scale
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_label_style(("sans-serif", 12))
            .y_label_formatter(&|v| format!("{v:.decimals$}"))
            .draw()
            .map_err(plot_err)?;
        let steps = 64;
        scale
            .draw_series((0..steps).map(|i| {
                let a = vmin + span * i as f64 / steps as f64;
                let b = vmin + span * (i + 1) as f64 / steps as f64;
                Rectangle::new(
                    [(0.0, a), (1.0, b)],
                    viridis(i as f64 / (steps - 1) as f64).filled(),
                )
            }))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// Training curves as the original notebook drew them: loss (left) and accuracy
/// (right) per epoch, training solid and validation dashed in the same colour.
/// Validation series may be empty.
pub fn training_curves(
    loss: &[f32],
    accuracy: &[f32],
    val_loss: &[f32],
    val_accuracy: &[f32],
) -> Result<Chart> {
    if loss.is_empty() || loss.len() != accuracy.len() {
        return Err(Error::shape(
            "accuracy values",
            format_args!("one per loss value ({}), at least one", loss.len()),
            accuracy.len(),
        ));
    }
    if val_loss.len() != val_accuracy.len()
        || !(val_loss.is_empty() || val_loss.len() == loss.len())
    {
        return Err(Error::shape(
            "validation series",
            format_args!("empty or one value per epoch ({})", loss.len()),
            format_args!(
                "{} loss and {} accuracy values",
                val_loss.len(),
                val_accuracy.len()
            ),
        ));
    }
    for s in [loss, accuracy, val_loss, val_accuracy] {
        check_finite(s.iter().map(|&v| v as f64), "training history")?;
    }
    let epochs = loss.len();
    let size = (SIZE.0 + 160, SIZE.1);
    render(size, |root| {
        let panels = root.split_evenly((1, 2));
        let max_loss = loss
            .iter()
            .chain(val_loss)
            .fold(0f32, |m, &v| m.max(v))
            .max(1e-6) as f64
            * 1.05;
        let specs: [(&str, &[f32], &[f32], f64); 2] = [
            ("Loss", loss, val_loss, max_loss),
            ("Accuracy", accuracy, val_accuracy, 1.0),
        ];
        for (panel, (name, train, val, top)) in panels.iter().zip(specs) {
            let x_end = epochs.max(2) as f64;
            let per_epoch = |s: &[f32]| -> Vec<(f64, f64)> {
                s.iter()
                    .enumerate()
                    .map(|(i, &v)| ((i + 1) as f64, v as f64))
                    .collect()
            };
            let mut entries = vec![("Train".to_string(), Glyph::Line(COLORS[0]))];
            let mut marks = polyline_marks(per_epoch(train), (1.0, x_end), (0.0, top));
            if !val.is_empty() {
                entries.push(("Val".to_string(), Glyph::Dashed(COLORS[0])));
                marks.extend(polyline_marks(per_epoch(val), (1.0, x_end), (0.0, top)));
            }
            let (pw, ph) = panel.dim_in_pixel();
            let plot = (pw as i32 - 24 - 50, ph as i32 - 24 - 28 - 40);
            let h = legend_headroom(&marks, plot, legend_size(&entries));
            let marks = squeeze(&marks, h);
            let mut chart = ChartBuilder::on(panel)
                .caption(name, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(1f64..x_end, 0f64..top * (1.0 + h))
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .x_desc("Epoch")
                .x_label_formatter(&|v| integer_label(*v))
                .y_desc(name)
                .draw()
                .map_err(plot_err)?;
            let color = COLORS[0];
            chart
                .draw_series(LineSeries::new(
                    train
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| ((i + 1) as f64, v as f64)),
                    color.stroke_width(2),
                ))
                .map_err(plot_err)?;
            if !val.is_empty() {
                chart
                    .draw_series(DashedLineSeries::new(
                        val.iter()
                            .enumerate()
                            .map(|(i, &v)| ((i + 1) as f64, v as f64)),
                        6,
                        4,
                        color.stroke_width(2),
                    ))
                    .map_err(plot_err)?;
            }
            draw_legend(&chart, &entries, &marks)?;
        }
        Ok(())
    })
}

/// A confusion matrix: rows = true class, columns = predicted class, colour = the
/// row-normalised rate, the count written in each cell when there are at most 40
/// classes.
pub fn confusion_matrix(
    counts: ArrayView2<usize>,
    labels: &[String],
    title: &str,
) -> Result<Chart> {
    let n = labels.len();
    if counts.dim() != (n, n) || n == 0 {
        return Err(Error::shape(
            "confusion matrix",
            format_args!("({n}, {n}), n > 0"),
            format_args!("{:?}", counts.dim()),
        ));
    }
    let layout = grid_layout(labels, 8, true);
    render(layout.size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(layout.x_area)
            .y_label_area_size(layout.y_area)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())
            .map_err(plot_err)?;
        // Row 0 at the top, as scikit-learn draws it.
        label_square_grid(
            root,
            &mut chart,
            labels,
            &layout,
            Some(("predicted", "true")),
        )?;
        let small = ("sans-serif", if n > 20 { 9 } else { 13 }).into_font();
        let row_sums: Vec<usize> = (0..n).map(|r| counts.row(r).sum()).collect();
        chart
            .draw_series((0..n).flat_map(|r| {
                let row_sums = &row_sums;
                (0..n).map(move |c| {
                    let rate = counts[[r, c]] as f64 / row_sums[r].max(1) as f64;
                    let y = n - 1 - r;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
                        ],
                        viridis(rate).filled(),
                    )
                })
            }))
            .map_err(plot_err)?;
        if n <= 40 {
            chart
                .draw_series((0..n).flat_map(|r| {
                    let row_sums = &row_sums;
                    let small = small.clone();
                    (0..n).filter(move |&c| counts[[r, c]] > 0).map(move |c| {
                        let rate = counts[[r, c]] as f64 / row_sums[r].max(1) as f64;
                        let color = if rate > 0.6 { BLACK } else { WHITE };
                        Text::new(
                            counts[[r, c]].to_string(),
                            (SegmentValue::CenterOf(c), SegmentValue::CenterOf(n - 1 - r)),
                            small.clone().color(&color),
                        )
                    })
                }))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// A labelled square matrix of similarities (rows and columns = the same items, e.g.
/// the cosine similarity between enrolled speakers): colour from the smallest value
/// (dark) to the largest (yellow), the value written in each cell when there are at
/// most 16 items.
///
/// ```
/// use ndarray::array;
/// use speaker_similarity::plot;
/// # fn main() -> speaker_similarity::Result<()> {
/// let names = vec!["ada".to_string(), "ben".to_string()];
/// let chart = plot::similarity_matrix(array![[1.0, 0.3], [0.3, 1.0]].view(), &names, "Cosine")?;
/// assert!(chart.svg().contains("0.30"));
/// # Ok(())
/// # }
/// ```
///
/// Errors: a matrix that is not `labels.len()` square, or a non-finite value.
pub fn similarity_matrix(values: ArrayView2<f32>, labels: &[String], title: &str) -> Result<Chart> {
    let n = labels.len();
    if values.dim() != (n, n) || n == 0 {
        return Err(Error::shape(
            "similarity matrix",
            format_args!("({n}, {n}), n > 0"),
            format_args!("{:?}", values.dim()),
        ));
    }
    check_finite(values.iter().map(|&v| v as f64), "similarities")?;
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { (hi - lo) as f64 } else { 1.0 };
    let layout = grid_layout(labels, 6, false);
    render(layout.size, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(layout.x_area)
            .y_label_area_size(layout.y_area)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())
            .map_err(plot_err)?;
        label_square_grid(root, &mut chart, labels, &layout, None)?;
        let small = ("sans-serif", if n > 20 { 9 } else { 13 }).into_font();
        let shade = |v: f32| (v - lo) as f64 / span;
        chart
            .draw_series((0..n).flat_map(|r| {
                (0..n).map(move |c| {
                    let y = n - 1 - r;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
                        ],
                        viridis(shade(values[[r, c]])).filled(),
                    )
                })
            }))
            .map_err(plot_err)?;
        if n <= 16 {
            chart
                .draw_series((0..n).flat_map(|r| {
                    let small = small.clone();
                    (0..n).map(move |c| {
                        let v = values[[r, c]];
                        let color = if shade(v) > 0.6 { BLACK } else { WHITE };
                        Text::new(
                            format!("{v:.2}"),
                            (SegmentValue::CenterOf(c), SegmentValue::CenterOf(n - 1 - r)),
                            small.clone().color(&color),
                        )
                    })
                }))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// Horizontal bars of a similarity ranking, most similar on top.
pub fn similarity_bars(ranking: &[Similar], title: &str) -> Result<Chart> {
    if ranking.is_empty() {
        return Err(Error::param("ranking", "nothing to draw"));
    }
    check_finite(ranking.iter().map(|s| s.score as f64), "similarity scores")?;
    let n = ranking.len();
    let lo = ranking.iter().fold(0f32, |m, s| m.min(s.score)).min(0.0) as f64;
    let height = (120 + 34 * n as u32).max(260);
    let names: Vec<String> = ranking.iter().map(|s| s.speaker.clone()).collect();
    let y_area = (widest(&names, 14.0) + 16.0).ceil() as u32;
    // The caption may not be wider than the canvas.
    let width = SIZE
        .0
        .max((text_width(title, font_px(22.0)) + 40.0).ceil() as u32);
    render((width, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            // Room for the score written after the longest bar.
            .margin_right(64)
            .x_label_area_size(40)
            .y_label_area_size(y_area)
            .build_cartesian_2d(lo..1.0f64, (0..n - 1).into_segmented())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_style(("sans-serif", 14))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => ranking[n - 1 - *i].speaker.clone(),
                _ => String::new(),
            })
            .x_desc("cosine similarity")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(ranking.iter().enumerate().map(|(i, s)| {
                let y = n - 1 - i;
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(y)),
                        (s.score as f64, SegmentValue::Exact(y + 1)),
                    ],
                    COLORS[if i == 0 { 1 } else { 0 }].filled(),
                );
                bar.set_margin(5, 5, 0, 0);
                bar
            }))
            .map_err(plot_err)?;
        chart
            .draw_series(ranking.iter().enumerate().map(|(i, s)| {
                Text::new(
                    format!(" {:.3}", s.score),
                    (s.score.max(0.0) as f64, SegmentValue::CenterOf(n - 1 - i)),
                    TextStyle::from(("sans-serif", 13).into_font())
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            }))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative
/// error below 1.2e-9), for DET axes: `-inf` at 0 and `inf` at 1.
pub fn probit(p: f64) -> f64 {
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else {
        crate::features::normal_quantile(p)
    }
}

/// Detection error trade-off curves on normal-deviate axes (the standard DET plot):
/// one curve per (name, points), with the EER line.
pub fn det_curves(curves: &[(&str, &[DetPoint])], title: &str) -> Result<Chart> {
    det_curves_marked(curves, &[], title)
}

/// [`det_curves`] with operating points marked: one filled dot per
/// `(name, false_alarm, miss)` (rates in [0, 1], such as the error rates at a
/// system's default threshold), named in the legend. Rates outside the axes are
/// drawn at the frame, as the curves are.
///
/// ```
/// use speaker_similarity::plot;
/// use speaker_similarity::similarity::{det_curve, Trial};
/// # fn main() -> speaker_similarity::Result<()> {
/// let trials: Vec<Trial> = (0..100)
///     .map(|i| Trial { score: (i % 13) as f32 + if i % 4 == 0 { 5.0 } else { 0.0 }, target: i % 4 == 0 })
///     .collect();
/// let det = det_curve(&trials)?;
/// let chart = plot::det_curves_marked(&[("cosine", &det)], &[("default threshold", 0.01, 0.2)], "DET")?;
/// assert!(chart.svg().contains("default threshold"));
/// assert!(plot::det_curves_marked(&[("cosine", &det)], &[("bad", f64::NAN, 0.1)], "DET").is_err());
/// # Ok(())
/// # }
/// ```
///
/// Errors: no curve, an empty curve, or a mark whose rates are not finite.
pub fn det_curves_marked(
    curves: &[(&str, &[DetPoint])],
    points: &[(&str, f64, f64)],
    title: &str,
) -> Result<Chart> {
    if curves.is_empty() || curves.iter().any(|(_, p)| p.is_empty()) {
        return Err(Error::param("curves", "nothing to draw"));
    }
    check_finite(
        points.iter().flat_map(|&(_, fa, miss)| [fa, miss]),
        "operating point rates",
    )?;
    // Ticks from 0.1 % to 60 %, the axes a little wider so the first ticks of the two
    // axes do not meet at the origin; rates outside are clamped to the frame.
    let ticks = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6];
    let (lo, hi) = (probit(0.0008), probit(0.62));
    let key: Vec<f64> = ticks.iter().map(|&t| probit(t)).collect();
    let fmt = |v: &f64| {
        ticks
            .iter()
            .find(|&&t| (probit(t) - v).abs() < 1e-9)
            .map(|t| format!("{}", t * 100.0))
            .unwrap_or_default()
    };
    let clamp = |p: f64| probit(p.clamp(0.0005, 0.9995)).clamp(lo, hi);
    let mut entries: Vec<(String, Glyph)> = curves
        .iter()
        .enumerate()
        .map(|(k, (name, _))| (name.to_string(), Glyph::Line(COLORS[k % COLORS.len()])))
        .collect();
    // The dots take the colours after the curves'.
    let dot_color = |k: usize| COLORS[(curves.len() + k) % COLORS.len()];
    entries.extend(
        points
            .iter()
            .enumerate()
            .map(|(k, (name, _, _))| (name.to_string(), Glyph::Dot(dot_color(k)))),
    );
    let mut marks: Vec<Mark> = curves
        .iter()
        .flat_map(|(_, points)| {
            polyline_marks(
                points.iter().map(|p| (clamp(p.false_alarm), clamp(p.miss))),
                (lo, hi),
                (lo, hi),
            )
        })
        .collect();
    let norm = |v: f64| (v - lo) / (hi - lo);
    marks.extend(points.iter().map(|&(_, fa, miss)| {
        let (x, y) = (norm(clamp(fa)), norm(clamp(miss)));
        Mark::Rect((x - 0.015, y - 0.015), (x + 0.015, y + 0.015))
    }));
    render((560, 560), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(54)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .x_desc("false alarm rate (%)")
            .y_desc("miss rate (%)")
            .draw()
            .map_err(plot_err)?;
        // Grid lines, ticks and their labels at the chosen probabilities, in pixels
        // beside the axes (plotters picks its own tick positions on an f64 axis).
        let label = ("sans-serif", 13).into_font();
        for &v in &key {
            chart
                .draw_series([
                    PathElement::new(vec![(v, lo), (v, hi)], BLACK.mix(0.12)),
                    PathElement::new(vec![(lo, v), (hi, v)], BLACK.mix(0.12)),
                ])
                .map_err(plot_err)?;
            let text = fmt(&v);
            let (x, y) = chart.backend_coord(&(v, lo));
            root.draw(&PathElement::new(vec![(x, y), (x, y + 5)], BLACK))
                .map_err(plot_err)?;
            root.draw(&Text::new(
                text.clone(),
                (x, y + 7),
                TextStyle::from(label.clone()).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(plot_err)?;
            let (x, y) = chart.backend_coord(&(lo, v));
            root.draw(&PathElement::new(vec![(x - 5, y), (x, y)], BLACK))
                .map_err(plot_err)?;
            root.draw(&Text::new(
                text,
                (x - 7, y),
                TextStyle::from(label.clone()).pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(plot_err)?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(lo, lo), (hi, hi)],
                BLACK.mix(0.4),
            )))
            .map_err(plot_err)?;
        // Points closer than about a pixel to the last one drawn are skipped: a curve
        // of thousands of trials stays a small file and looks the same.
        let tol = (hi - lo) / 800.0;
        for (k, (_, points)) in curves.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let all: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (clamp(p.false_alarm), clamp(p.miss)))
                .collect();
            let mut shown: Vec<(f64, f64)> = Vec::with_capacity(all.len().min(2000));
            for (i, &q) in all.iter().enumerate() {
                let near = shown
                    .last()
                    .is_some_and(|l| (q.0 - l.0).abs() < tol && (q.1 - l.1).abs() < tol);
                if !near || i + 1 == all.len() {
                    shown.push(q);
                }
            }
            chart
                .draw_series(LineSeries::new(shown, color.stroke_width(2)))
                .map_err(plot_err)?;
        }
        chart
            .draw_series(points.iter().enumerate().map(|(k, &(_, fa, miss))| {
                Circle::new((clamp(fa), clamp(miss)), 6, dot_color(k).filled())
            }))
            .map_err(plot_err)?;
        draw_legend(&chart, &entries, &marks)?;
        Ok(())
    })
}

/// A speaker timeline: one lane per annotation (for instance the truth above the
/// hypothesis), one coloured bar per turn, the same colour for the same label in
/// every lane (pass the hypothesis with labels mapped onto the truth's, as
/// [`der`](crate::diarize::der) returns them, to compare by colour). Overlapping
/// turns of one lane are drawn in thinner sub-rows.
///
/// ```
/// use speaker_similarity::diarize::Turn;
/// use speaker_similarity::plot;
/// # fn main() -> speaker_similarity::Result<()> {
/// let truth = vec![Turn::new(0.0, 3.0, "alice")?, Turn::new(3.5, 6.0, "bob")?];
/// let hyp = vec![Turn::new(0.1, 3.2, "alice")?, Turn::new(3.2, 6.0, "bob")?];
/// let chart = plot::timeline(&[("truth", &truth), ("hypothesis", &hyp)], 6.5, "Who speaks when")?;
/// assert!(chart.svg().contains("alice"));
/// # Ok(())
/// # }
/// ```
pub fn timeline(
    lanes: &[(&str, &[crate::diarize::Turn])],
    duration: f64,
    title: &str,
) -> Result<Chart> {
    if lanes.is_empty() {
        return Err(Error::param("lanes", "nothing to draw"));
    }
    if !(duration.is_finite() && duration > 0.0) {
        return Err(Error::param("duration", format!("{duration} is not > 0 s")));
    }
    for (_, turns) in lanes {
        for t in turns.iter() {
            t.validate()?;
        }
    }
    let mut labels: Vec<String> = Vec::new();
    for (_, turns) in lanes {
        let mut sorted: Vec<&crate::diarize::Turn> = turns.iter().collect();
        sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
        for t in sorted {
            if !labels.contains(&t.label) {
                labels.push(t.label.clone());
            }
        }
    }
    let color = |l: &str| -> RGBColor {
        let i = labels.iter().position(|x| x == l).unwrap_or(0);
        COLORS[i % COLORS.len()]
    };
    let n = lanes.len();
    let legend_rows = labels.len().div_ceil(6).max(1) as u32;
    let height = (140 + 70 * n as u32 + 18 * legend_rows).min(1400);
    render((SIZE.0, height), |full| {
        let (root, legend) = full.split_vertically(height - 10 - 18 * legend_rows);
        let root = &root;
        let lane_name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => lanes[n - 1 - *i].0.to_string(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(96)
            .build_cartesian_2d(0f64..duration, (0usize..n).into_segmented())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&lane_name)
            .x_desc("time (s)")
            .draw()
            .map_err(plot_err)?;
        for (li, (_, turns)) in lanes.iter().enumerate() {
            let row = n - 1 - li;
            // Sub-rows for overlapping turns: greedy interval colouring.
            let mut sorted: Vec<&crate::diarize::Turn> = turns.iter().collect();
            sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
            let mut ends: Vec<f64> = Vec::new();
            let mut placed: Vec<(usize, &crate::diarize::Turn)> = Vec::new();
            for t in sorted {
                let k = match ends.iter().position(|&e| e <= t.start) {
                    Some(k) => k,
                    None => {
                        ends.push(0.0);
                        ends.len() - 1
                    }
                };
                ends[k] = t.end;
                placed.push((k, t));
            }
            let subs = ends.len().max(1) as f64;
            for (k, t) in placed {
                let lo = 0.1 + 0.8 * k as f64 / subs;
                let hi = 0.1 + 0.8 * (k + 1) as f64 / subs;
                // The bar in pixels: the lane's row, shrunk to its sub-row.
                let (x0, x1) = (t.start, t.end.min(duration));
                let top = chart.backend_coord(&(x0, SegmentValue::Exact(row + 1)));
                let bot = chart.backend_coord(&(x1, SegmentValue::Exact(row)));
                let h = (bot.1 - top.1) as f64;
                let ya = top.1 + (h * (1.0 - hi)) as i32;
                let yb = top.1 + (h * (1.0 - lo)) as i32;
                chart
                    .plotting_area()
                    .strip_coord_spec()
                    .draw(&Rectangle::new(
                        [(top.0, ya), (bot.0.max(top.0 + 1), yb)],
                        color(&t.label).filled(),
                    ))
                    .map_err(plot_err)?;
            }
        }
        // Legend: one swatch per label.
        for (i, l) in labels.iter().enumerate() {
            let x = 110 + (i as i32 % 6) * 118;
            let y = 18 * (i as i32 / 6);
            legend
                .draw(&Rectangle::new(
                    [(x, y), (x + 14, y + 12)],
                    color(l).filled(),
                ))
                .map_err(plot_err)?;
            legend
                .draw(&Text::new(l.clone(), (x + 18, y), ("sans-serif", 13)))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}
