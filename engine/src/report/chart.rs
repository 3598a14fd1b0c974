//! Charts as self-contained SVG, drawn with the `plotters` crate's SVG backend: line charts,
//! scatter plots, histograms and box plots, shared by `report.html` and the web dashboard.
//!
//! Data in, SVG string out:
//!
//! ```
//! use amm_engine::report::chart::{self, LineChart, Series};
//! let a = [(1.0, 40.0), (2.0, 55.5), (3.0, 61.25)];
//! let svg = chart::lines(&LineChart {
//!     title: "Capital weight by epoch",
//!     desc: "",
//!     x_label: "epoch",
//!     y_label: "capital weight (%)",
//!     series: &[Series::new("starter", &a)],
//!     y_range: Some((0.0, 100.0)),
//! });
//! assert!(svg.starts_with("<svg") && svg.contains("role=\"img\""));
//! ```
//!
//! What every chart has:
//! - round tick values: every tick is a multiple of a step of 1, 2 or 5 × 10^k ([`Ticks`]), and
//!   the value axis covers the data (ticks at both ends);
//! - axis labels (the caller puts the unit in the label, e.g. `edge (Y)`), a legend naming each
//!   series (on a histogram, when it has reference lines);
//! - value tooltips: plotters emits no SVG `<title>`, so after it has drawn, a transparent hover
//!   target carrying a `<title>` is added at the backend coordinates of each point, bar and box;
//! - accessibility: `role="img"`, an `aria-label`, `<title>` and `<desc>` (the caller's, or a
//!   generated summary), a colour-blind-safe [`PALETTE`] whose colours all contrast at least
//!   3:1 with the white background, and a marker shape (circle, square, triangle, cross in turn)
//!   besides its colour for each series;
//! - a `viewBox` 800 units wide with `width="100%"`: the chart scales to its container's width.
//!   On screens up to 600 px wide a CSS media query in the SVG draws the text at 20 units, so it
//!   stays readable when scaled down (about 10 px at 390 px wide); the layout leaves room for
//!   text at that size (legend columns, axis label areas, fewer x ticks for long labels);
//! - deterministic bytes: the same data gives the same string.
//!
//! Text: plotters is built without fonts (no `ttf` / `ab_glyph` feature). Its built-in estimate of
//! text extents is used only for layout; the SVG names the generic `sans-serif` family and the
//! viewer draws the glyphs with its own fonts. No font is embedded or downloaded.
//!
//! Names and labels come from untrusted strategies: plotters escapes the text it draws, and the
//! tooltips and titles added here are escaped with [`super::html::escape`]. Control characters
//! become spaces and long names are shortened in the drawing (never in the tooltip).
//!
//! None of the functions panics: non-finite values are dropped, an empty chart says "No data", a
//! constant series gets a small range around its value.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::html::escape;

/// Series colours, in order: the Okabe–Ito colour-blind-safe hues, with orange darkened and the
/// light ones replaced by Paul Tol's indigo and wine so that each has a contrast ratio of at least
/// 3:1 against white (WCAG 1.4.11 for graphical objects).
pub const PALETTE: [&str; 10] =
    ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#9E6A00", "#332288", "#222222", "#882255", "#117733", "#666666"];

/// The style rules every chart carries in one `<style>` element: hover feedback on the tooltip
/// targets, and text 20 units high on screens up to 600 px wide. A page whose
/// Content-Security-Policy refuses inline `<style>` elements can drop that element when it
/// inlines a chart and serve these rules in its own stylesheet.
pub const CSS: &str =
    "svg.chart .chart-tips>*:hover{fill-opacity:.12}@media (max-width:600px){svg.chart text{font-size:20px}}";

/// Chart width in SVG user units (the `viewBox` width; the element itself is 100% wide).
pub const WIDTH: u32 = 800;

const PLOT_HEIGHT: u32 = 340;
const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const FONT: &str = "sans-serif";
/// plotters writes `font-size` = size / 1.24: 16 → 12.9 px, 17 → 13.7 px.
const LABEL_SIZE: f64 = 16.0;
const DESC_SIZE: f64 = 17.0;
/// Characters of a name drawn in a legend or on an axis (tooltips carry the whole name).
const NAME_CHARS: usize = 28;
/// Room for one character of text on a phone, in viewBox units. On screens up to 600 px wide
/// the chart is scaled down, so [`CSS`] draws its text 20 units high to stay readable (about
/// 10 px at 390 px wide); the layout leaves 12 units (0.6 em) a character, so text fits at
/// either size.
const CHAR_UNITS: u32 = 12;

/// One named series of (x, y) points.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    /// Legend name (untrusted text is fine: it is escaped).
    pub name: &'a str,
    /// Points in data units; non-finite points are skipped.
    pub points: &'a [(f64, f64)],
    /// Draw this series emphasised and the others muted ("one strategy vs the others").
    pub highlight: bool,
}

impl<'a> Series<'a> {
    /// A plain (not highlighted) series.
    pub fn new(name: &'a str, points: &'a [(f64, f64)]) -> Self {
        Self { name, points, highlight: false }
    }

    /// The same series, emphasised.
    pub fn highlighted(self) -> Self {
        Self { highlight: true, ..self }
    }
}

/// A line chart (or scatter plot) of several series against a shared x axis.
#[derive(Clone, Copy, Debug)]
pub struct LineChart<'a> {
    /// Accessible name (`aria-label`, `<title>`); not drawn: the page shows its own heading.
    pub title: &'a str,
    /// Accessible description (`<desc>`); empty: a summary of the data is generated.
    pub desc: &'a str,
    /// X axis label with its unit, e.g. `epoch` or `seed`.
    pub x_label: &'a str,
    /// Y axis label with its unit, e.g. `edge (Y)` or `capital weight (%)`.
    pub y_label: &'a str,
    /// The series, drawn in palette order.
    pub series: &'a [Series<'a>],
    /// A y range the axis must include (e.g. `Some((0.0, 100.0))` for percentages); the axis
    /// always covers the data too.
    pub y_range: Option<(f64, f64)>,
}

/// A vertical reference line on a histogram, e.g. the mean or the normalizer's edge.
#[derive(Clone, Copy, Debug)]
pub struct Marker<'a> {
    /// Legend and tooltip name.
    pub name: &'a str,
    /// Position in x data units.
    pub value: f64,
}

/// A histogram of one sample, with optional reference lines.
#[derive(Clone, Copy, Debug)]
pub struct Histogram<'a> {
    /// Accessible name (`aria-label`, `<title>`).
    pub title: &'a str,
    /// Accessible description; empty: a summary is generated.
    pub desc: &'a str,
    /// X axis label with its unit, e.g. `edge per simulation (Y)`.
    pub x_label: &'a str,
    /// Y axis label, e.g. `seeds` (the count of values in each bin).
    pub y_label: &'a str,
    /// The sample; non-finite values are skipped. Bins are round-width (1, 2 or 5 × 10^k) and
    /// start at a multiple of their width; about √n of them, between 5 and 30.
    pub values: &'a [f64],
    /// Reference lines.
    pub markers: &'a [Marker<'a>],
}

/// One row of a box chart.
#[derive(Clone, Copy, Debug)]
pub struct BoxRow<'a> {
    /// Row name (drawn on the axis; escaped).
    pub name: &'a str,
    /// The sample; non-finite values are skipped.
    pub values: &'a [f64],
}

/// Horizontal box plots, one row per sample, on a shared value axis: box from the 25th to the
/// 75th percentile, a line at the median, whiskers to the 5th and 95th, a dot at the mean.
#[derive(Clone, Copy, Debug)]
pub struct BoxChart<'a> {
    /// Accessible name (`aria-label`, `<title>`).
    pub title: &'a str,
    /// Accessible description; empty: a summary is generated.
    pub desc: &'a str,
    /// Value axis label with its unit, e.g. `edge per simulation (Y)`.
    pub x_label: &'a str,
    /// The rows, top to bottom.
    pub rows: &'a [BoxRow<'a>],
}

/// Round axis ticks: `values[i] = (first + i) · mantissa · 10^exponent` with a mantissa of 1, 2
/// or 5, each the closest `f64` to its decimal value.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    /// The tick values, increasing.
    pub values: Vec<f64>,
    /// The step's mantissa: 1, 2 or 5.
    pub mantissa: i64,
    /// The step's power of ten.
    pub exponent: i32,
    /// The axis range: (first tick, last tick) for [`Ticks::covering`], the padded data range for
    /// [`Ticks::inside`].
    pub range: (f64, f64),
}

impl Ticks {
    /// About `target` round ticks whose first is at or below `lo` and last at or above `hi`. An
    /// empty or degenerate range (lo ≥ hi, non-finite) gets a small range around it. `integer`:
    /// the step is at least 1 (for counts, epochs, seeds).
    pub fn covering(lo: f64, hi: f64, target: usize, integer: bool) -> Ticks {
        let (lo, hi) = widen(lo, hi, integer);
        let (mantissa, exponent) = step_for((hi - lo) / target.max(1) as f64, integer);
        let step = decimal(mantissa, exponent);
        let first = (lo / step).floor() as i64;
        let mut last = (hi / step).ceil() as i64;
        if last <= first {
            last = first + 1;
        }
        let values: Vec<f64> = (first..=last).map(|i| decimal(i * mantissa, exponent)).collect();
        let range = (values[0], values[values.len() - 1]);
        Ticks { values, mantissa, exponent, range }
    }

    /// Round ticks within `[lo, hi]` (for an x axis that should start at the first epoch, not
    /// at zero); the axis range is `[lo, hi]` itself. Falls back to [`Ticks::covering`] when
    /// fewer than two round values fall inside.
    pub fn inside(lo: f64, hi: f64, target: usize, integer: bool) -> Ticks {
        let (lo, hi) = widen(lo, hi, integer);
        let (mantissa, exponent) = step_for((hi - lo) / target.max(1) as f64, integer);
        let step = decimal(mantissa, exponent);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        if last - first < 1 {
            return Ticks::covering(lo, hi, target, integer);
        }
        let values = (first..=last).map(|i| decimal(i * mantissa, exponent)).collect();
        Ticks { values, mantissa, exponent, range: (lo, hi) }
    }

    /// The axis for plotters: this range, these ticks.
    fn axis(&self) -> TickAxis {
        TickAxis { lo: self.range.0, hi: self.range.1, ticks: self.values.clone() }
    }

    /// The step between ticks.
    pub fn step(&self) -> f64 {
        decimal(self.mantissa, self.exponent)
    }

    /// A tick label: the value with as many decimals as the step needs, a true minus sign.
    pub fn label(&self, value: f64) -> String {
        let decimals = usize::try_from(-self.exponent).unwrap_or(0);
        let text = format!("{value:.decimals$}");
        let text = if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
            text.trim_start_matches('-').to_string()
        } else {
            text
        };
        text.replacen('-', "\u{2212}", 1)
    }
}

/// A linear plotters axis over `lo..hi` whose key points (grid lines and labels) are exactly
/// `ticks` (plotters' own f64 axes choose their own, not always round, ticks).
struct TickAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let f = if span > 0.0 { (value - self.lo) / span } else { 0.5 };
        let px = limit.0 as f64 + f * f64::from(limit.1 - limit.0);
        px.round().clamp(-1e6, 1e6) as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// The closest `f64` to `m · 10^k`.
fn decimal(m: i64, k: i32) -> f64 {
    format!("{m}e{k}").parse().unwrap_or(0.0)
}

/// The smallest 1/2/5 × 10^k step at least `raw`.
fn step_for(raw: f64, integer: bool) -> (i64, i32) {
    let raw = if raw.is_finite() && raw > 0.0 { raw } else { 1.0 };
    let raw = if integer { raw.max(1.0) } else { raw };
    // libm's log10, not the platform's, like the rest of the engine's math; an estimate that is
    // off by one near an exact power is corrected below, so the step does not depend on it.
    let mut k = libm::log10(raw).floor() as i32;
    if decimal(1, k) > raw {
        k -= 1;
    }
    loop {
        for m in [1, 2, 5] {
            if decimal(m, k) >= raw {
                return (m, k);
            }
        }
        k += 1;
    }
}

/// A non-degenerate finite range around (lo, hi).
fn widen(lo: f64, hi: f64, integer: bool) -> (f64, f64) {
    const LIMIT: f64 = 1e300;
    let (mut lo, mut hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), hi.max(lo)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 0.0),
    };
    lo = lo.clamp(-LIMIT, LIMIT);
    hi = hi.clamp(-LIMIT, LIMIT);
    let scale = lo.abs().max(hi.abs());
    if hi - lo <= scale * 1e-9 {
        let half = if integer || scale == 0.0 { 1.0 } else { scale * 0.05 };
        (lo, hi) = (lo - half, hi + half);
    }
    (lo, hi)
}

/// A value for a tooltip: two decimals from 1 up, four significant digits below.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    let text = if a == 0.0 {
        "0".to_string()
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let decimals = (3 - libm::log10(a).floor() as i32).clamp(0, 12) as usize;
        format!("{v:.decimals$}")
    };
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { text.replace('-', "") } else { text }
}

/// A name as drawn: control characters as spaces, at most [`NAME_CHARS`] characters.
fn shown(name: &str) -> String {
    shortened(name, NAME_CHARS)
}

/// `name` with control characters as spaces, at most `max` characters (the last an ellipsis).
fn shortened(name: &str, max: usize) -> String {
    let clean: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() > max {
        let mut short: String = clean.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    } else {
        clean
    }
}

fn color(i: usize) -> RGBColor {
    let hex = PALETTE[i % PALETTE.len()].trim_start_matches('#');
    let byte = |k: usize| u8::from_str_radix(hex.get(k..k + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(byte(0), byte(2), byte(4))
}

/// Draws the marker of series `i` (circle, square, triangle or cross, in turn) at each point.
fn draw_markers<CT: CoordTranslate>(
    area: &DrawingArea<SVGBackend<'_>, CT>,
    i: usize,
    points: &[CT::From],
    style: ShapeStyle,
) -> Result<(), DrawError>
where
    CT::From: Clone,
{
    for p in points {
        let p = p.clone();
        match i % 4 {
            0 => area.draw(&Circle::new(p, 4, style.filled())),
            1 => area.draw(&(EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], style.filled()))),
            2 => area.draw(&TriangleMarker::new(p, 5, style.filled())),
            _ => area.draw(&Cross::new(p, 4, style.stroke_width(2))),
        }
        .map_err(err)?;
    }
    Ok(())
}

/// A plot on two tick axes inside `area`, its mesh drawn: a grid line at each tick, the
/// ticks' labels, the axis titles `x_label` and `y_label` (the y label area fits the widest
/// tick label).
fn tick_plot<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    xt: &Ticks,
    yt: &Ticks,
    x_label: &str,
    y_label: &str,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<TickAxis, TickAxis>>, DrawError> {
    let labels: Vec<String> = yt.values.iter().map(|v| yt.label(*v)).collect();
    let mut c = ChartBuilder::on(area)
        .margin(14)
        .margin_right(28)
        .x_label_area_size(58)
        .y_label_area_size(48 + label_room(labels.iter().map(String::as_str)))
        .build_cartesian_2d(xt.axis(), yt.axis())
        .map_err(err)?;
    let x_fmt = |v: &f64| xt.label(*v);
    let y_fmt = |v: &f64| yt.label(*v);
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style((FONT, LABEL_SIZE).into_font().color(&TEXT))
        .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .draw()
        .map_err(err)?;
    Ok(c)
}

/// A tooltip's text, each line escaped, lines joined by newlines.
fn tip(lines: &[String]) -> String {
    lines.iter().map(|l| escape(l)).collect::<Vec<_>>().join("\n")
}

type DrawError = String;

/// (x, y) points in data units.
type Points = Vec<(f64, f64)>;

fn err<E: std::fmt::Debug>(e: E) -> DrawError {
    format!("{e:?}")
}

/// Wraps plotters' SVG (which opens with a fixed-size `<svg …>` line) into the accessible,
/// scalable element, with the hover targets drawn last so they are on top.
fn finish(drawn: &str, title: &str, desc: &str, height: u32, tips: &str) -> String {
    let body = drawn.split_once('\n').map_or("", |(_, rest)| rest);
    let body = body.trim_end().strip_suffix("</svg>").unwrap_or(body);
    let mut svg = String::with_capacity(drawn.len() + tips.len() + 400);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" \
         style=\"width:100%;height:auto\" role=\"img\" aria-label=\"{t}\" class=\"chart\">\n\
         <title>{t}</title>\n<desc>{d}</desc>\n",
        t = escape(title),
        d = escape(desc)
    );
    let _ = writeln!(svg, "<style>{CSS}</style>");
    svg.push_str(body);
    if !tips.is_empty() {
        svg.push_str("<g class=\"chart-tips\" fill=\"#000\" fill-opacity=\"0\" stroke=\"none\">\n");
        svg.push_str(tips);
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    svg
}

/// An SVG saying there is nothing to draw (drawn with plotters too).
fn no_data(title: &str, desc: &str, note: &str) -> String {
    let height = 80;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        let style = (FONT, DESC_SIZE).into_font().color(&TEXT).pos(Pos::new(HPos::Center, VPos::Center));
        let drawn = root
            .fill(&WHITE)
            .and_then(|_| root.draw(&Text::new(note.to_string(), (WIDTH as i32 / 2, height as i32 / 2), style)))
            .and_then(|_| root.present());
        if drawn.is_err() {
            return String::new();
        }
    }
    finish(&buf, title, if desc.is_empty() { note } else { desc }, height, "")
}

/// The bounds of finite values, or `None`.
fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// How a legend entry shows its series.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    /// A line with the series' marker.
    Line,
    /// The series' marker alone.
    Point,
    /// A filled square (bars).
    Swatch,
}

/// Legend columns: as many as the longest name leaves room for on a phone, 1 to 4.
fn legend_columns(entries: &[(String, usize, Key)]) -> u32 {
    let longest = entries.iter().map(|e| shown(&e.0).chars().count()).max().unwrap_or(1) as u32;
    ((WIDTH - LEGEND_LEFT) / (40 + CHAR_UNITS * longest)).clamp(1, 4)
}

const LEGEND_LEFT: u32 = 60;
const LEGEND_ROW: u32 = 28;

/// Draws a legend of `(name, palette index, key)` entries in rows across `area`.
fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, entries: &[(String, usize, Key)]) -> Result<(), DrawError> {
    let font = (FONT, LABEL_SIZE).into_font().color(&TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let columns = legend_columns(entries);
    let column_width = (WIDTH - LEGEND_LEFT) / columns;
    for (n, (name, i, key)) in entries.iter().enumerate() {
        let (col, row) = (n as u32 % columns, n as u32 / columns);
        let (x, y) = ((LEGEND_LEFT + column_width * col) as i32, (14 + LEGEND_ROW * row) as i32);
        let style = ShapeStyle::from(&color(*i)).stroke_width(2);
        match key {
            Key::Line => {
                area.draw(&PathElement::new(vec![(x, y), (x + 28, y)], style)).map_err(err)?;
                draw_markers(area, *i, &[(x + 14, y)], style)?;
            }
            Key::Point => draw_markers(area, *i, &[(x + 14, y)], style)?,
            Key::Swatch => area
                .draw(&Rectangle::new([(x + 7, y - 7), (x + 21, y + 7)], color(*i).mix(0.8).filled()))
                .map_err(err)?,
        }
        area.draw(&Text::new(shown(name), (x + 36, y), font.clone())).map_err(err)?;
    }
    Ok(())
}

fn legend_height(entries: &[(String, usize, Key)]) -> u32 {
    if entries.is_empty() { 0 } else { 8 + LEGEND_ROW * (entries.len() as u32).div_ceil(legend_columns(entries)) }
}

/// Room for the widest of `labels` on a phone.
fn label_room<'a>(labels: impl Iterator<Item = &'a str>) -> u32 {
    CHAR_UNITS * labels.map(|l| l.chars().count()).max().unwrap_or(1) as u32
}

/// X ticks: as many as about 8, fewer when their labels would not fit side by side across the
/// plot on a phone.
fn x_ticks(lo: f64, hi: f64, integer: bool, covering: bool) -> Ticks {
    let make = |target| {
        if covering { Ticks::covering(lo, hi, target, integer) } else { Ticks::inside(lo, hi, target, integer) }
    };
    let mut ticks = make(8);
    for target in [6, 5, 4, 3, 2] {
        let labels: Vec<String> = ticks.values.iter().map(|v| ticks.label(*v)).collect();
        let room = f64::from(label_room(labels.iter().map(String::as_str)) + 2 * CHAR_UNITS);
        if room * (ticks.values.len() as f64) <= 620.0 {
            break;
        }
        ticks = make(target);
    }
    ticks
}

/// A line chart: one polyline per series with a marker at each point, a legend below naming
/// each series, and a tooltip per point (series name, x and y with their
/// axis labels).
pub fn lines(chart: &LineChart<'_>) -> String {
    xy(chart, true)
}

/// A scatter plot: like [`lines`] without the connecting lines (e.g. edge by seed).
pub fn scatter(chart: &LineChart<'_>) -> String {
    xy(chart, false)
}

fn xy(chart: &LineChart<'_>, joined: bool) -> String {
    let series: Vec<(usize, &Series<'_>, Points)> = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s, s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect()))
        .collect();
    let all = || series.iter().flat_map(|s| s.2.iter());
    let (Some((x_lo, x_hi)), Some((y_lo, y_hi))) = (bounds(all().map(|p| p.0)), bounds(all().map(|p| p.1))) else {
        return no_data(chart.title, chart.desc, "No data");
    };
    let (y_lo, y_hi) = match chart.y_range {
        Some((a, b)) if a.is_finite() && b.is_finite() => (y_lo.min(a), y_hi.max(b)),
        _ => (y_lo, y_hi),
    };
    let x_integer = all().all(|p| p.0.fract() == 0.0);
    let xt = x_ticks(x_lo, x_hi, x_integer, false);
    let yt = Ticks::covering(y_lo, y_hi, 6, false);
    let desc = if chart.desc.is_empty() {
        let mut d = format!(
            "{} series; {} from {} to {}; {} from {} to {}.",
            series.len(),
            chart.x_label,
            format_value(x_lo),
            format_value(x_hi),
            chart.y_label,
            format_value(y_lo),
            format_value(y_hi)
        );
        for (_, s, points) in &series {
            if let (Some(first), Some(last)) = (points.first(), points.last()) {
                let _ = write!(d, " {}: {} to {}.", s.name, format_value(first.1), format_value(last.1));
            }
        }
        d
    } else {
        chart.desc.to_string()
    };
    let key = if joined { Key::Line } else { Key::Point };
    let entries: Vec<(String, usize, Key)> = series.iter().map(|(i, s, _)| (s.name.to_string(), *i, key)).collect();
    let height = PLOT_HEIGHT + legend_height(&entries);
    let mut buf = String::new();
    let mut tips = String::new();
    let drawn = (|| -> Result<(), DrawError> {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(PLOT_HEIGHT);
        let mut c = tick_plot(&top, &xt, &yt, chart.x_label, chart.y_label)?;
        let emphasis = series.iter().any(|s| s.1.highlight);
        // Muted series first, so the highlighted ones are drawn over them.
        let order = series
            .iter()
            .filter(|s| emphasis && !s.1.highlight)
            .chain(series.iter().filter(|s| !emphasis || s.1.highlight));
        for (i, s, points) in order {
            let muted = emphasis && !s.highlight;
            let base = color(*i);
            let style = if muted {
                base.mix(0.55).stroke_width(1)
            } else {
                ShapeStyle::from(&base).stroke_width(if emphasis { 3 } else { 2 })
            };
            if joined && points.len() > 1 {
                c.draw_series(LineSeries::new(points.iter().copied(), style)).map_err(err)?;
            }
            draw_markers(c.plotting_area(), *i, points, style)?;
            for p in points {
                let (bx, by) = c.backend_coord(p);
                let text = tip(&[
                    s.name.to_string(),
                    format!("{}: {}", chart.x_label, format_value(p.0)),
                    format!("{}: {}", chart.y_label, format_value(p.1)),
                ]);
                let _ = writeln!(tips, "<circle cx=\"{bx}\" cy=\"{by}\" r=\"8\"><title>{text}</title></circle>");
            }
        }
        legend(&bottom, &entries)?;
        root.present().map_err(err)
    })();
    match drawn {
        Ok(()) => finish(&buf, chart.title, &desc, height, &tips),
        Err(e) => no_data(chart.title, chart.desc, &format!("The chart could not be drawn: {e}")),
    }
}

/// A histogram: round-width bins, a tooltip per bin (its range and count), optional reference
/// lines with a legend.
pub fn histogram(h: &Histogram<'_>) -> String {
    let mut values: Vec<f64> = h.values.iter().copied().filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    let (Some(&lo), Some(&hi)) = (values.first(), values.last()) else {
        return no_data(h.title, h.desc, "No data");
    };
    let n = values.len();
    let target = ((n as f64).sqrt().ceil() as usize).clamp(5, 30);
    let bins = Ticks::covering(lo, hi, target, false);
    let edges = &bins.values;
    let mut counts = vec![0usize; edges.len() - 1];
    for v in &values {
        // Bin i holds [edge i, edge i+1); the last bin also holds its upper edge.
        let i = edges.partition_point(|e| e <= v).saturating_sub(1).min(counts.len() - 1);
        counts[i] += 1;
    }
    let markers: Vec<&Marker<'_>> = h.markers.iter().filter(|m| m.value.is_finite()).collect();
    let x_lo = markers.iter().map(|m| m.value).fold(bins.range.0, f64::min);
    let x_hi = markers.iter().map(|m| m.value).fold(bins.range.1, f64::max);
    let xt = x_ticks(x_lo, x_hi, false, true);
    let max_count = counts.iter().copied().max().unwrap_or(0);
    let yt = Ticks::covering(0.0, max_count as f64, 5, true);
    let desc = if h.desc.is_empty() {
        let mut d = format!(
            "{n} values from {} to {}, median {}; {} bins {} wide.",
            format_value(lo),
            format_value(hi),
            format_value(values[n / 2]),
            counts.len(),
            format_value(bins.step())
        );
        for m in &markers {
            let _ = write!(d, " {}: {}.", m.name, format_value(m.value));
        }
        d
    } else {
        h.desc.to_string()
    };
    // A legend only to tell the bars from the reference lines.
    let entries: Vec<(String, usize, Key)> = if markers.is_empty() {
        Vec::new()
    } else {
        std::iter::once((h.y_label.to_string(), 0, Key::Swatch))
            .chain(markers.iter().enumerate().map(|(j, m)| (m.name.to_string(), marker_colour(j), Key::Line)))
            .collect()
    };
    let height = PLOT_HEIGHT + legend_height(&entries);
    let mut buf = String::new();
    let mut tips = String::new();
    let drawn = (|| -> Result<(), DrawError> {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(PLOT_HEIGHT);
        let mut c = tick_plot(&top, &xt, &yt, h.x_label, h.y_label)?;
        let fill = color(0);
        let bars = counts
            .iter()
            .enumerate()
            .filter(|(_, k)| **k > 0)
            .map(|(i, k)| Rectangle::new([(edges[i], 0.0), (edges[i + 1], *k as f64)], fill.mix(0.8).filled()));
        c.draw_series(bars).map_err(err)?;
        let outlines = counts.iter().enumerate().filter(|(_, k)| **k > 0).map(|(i, k)| {
            Rectangle::new([(edges[i], 0.0), (edges[i + 1], *k as f64)], ShapeStyle::from(&WHITE).stroke_width(1))
        });
        c.draw_series(outlines).map_err(err)?;
        for (j, m) in markers.iter().enumerate() {
            let style = ShapeStyle::from(&color(marker_colour(j))).stroke_width(3);
            c.draw_series(DashedLineSeries::new([(m.value, yt.range.0), (m.value, yt.range.1)], 6, 4, style))
                .map_err(err)?;
            let (bx, top_y) = c.backend_coord(&(m.value, yt.range.1));
            let (_, bottom_y) = c.backend_coord(&(m.value, yt.range.0));
            let text = tip(&[m.name.to_string(), format!("{}: {}", h.x_label, format_value(m.value))]);
            let _ = writeln!(
                tips,
                "<rect x=\"{}\" y=\"{top_y}\" width=\"8\" height=\"{}\"><title>{text}</title></rect>",
                bx - 4,
                bottom_y - top_y
            );
        }
        for (i, k) in counts.iter().enumerate() {
            // The hover target spans the whole column, so short bars are easy to point at.
            let (x0, y0) = c.backend_coord(&(edges[i], yt.range.1));
            let (x1, y1) = c.backend_coord(&(edges[i + 1], yt.range.0));
            let text = tip(&[
                format!("{}: {} to {}", h.x_label, format_value(edges[i]), format_value(edges[i + 1])),
                format!("{}: {k}", h.y_label),
            ]);
            let _ = writeln!(
                tips,
                "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\"><title>{text}</title></rect>",
                (x1 - x0).max(1),
                (y1 - y0).max(1)
            );
        }
        legend(&bottom, &entries)?;
        root.present().map_err(err)
    })();
    match drawn {
        Ok(()) => finish(&buf, h.title, &desc, height, &tips),
        Err(e) => no_data(h.title, h.desc, &format!("The chart could not be drawn: {e}")),
    }
}

/// The palette index of histogram reference line `j`: dark colours that stand out on the bars.
fn marker_colour(j: usize) -> usize {
    [6, 1, 7, 5][j % 4]
}

/// The `q`-quantile of sorted values, linearly interpolated (0 for none).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] + frac * (next - sorted[i])
}

/// The statistics a box shows.
struct BoxStats {
    n: usize,
    p5: f64,
    q1: f64,
    median: f64,
    q3: f64,
    p95: f64,
    mean: f64,
}

fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(BoxStats {
        n: v.len(),
        p5: quantile(&v, 0.05),
        q1: quantile(&v, 0.25),
        median: quantile(&v, 0.5),
        q3: quantile(&v, 0.75),
        p95: quantile(&v, 0.95),
        mean: v.iter().sum::<f64>() / v.len() as f64,
    })
}

/// Horizontal box plots, one row per sample, with a tooltip per row giving n, the mean and
/// the percentiles drawn.
pub fn boxes(b: &BoxChart<'_>) -> String {
    let stats: Vec<Option<BoxStats>> = b.rows.iter().map(|r| box_stats(r.values)).collect();
    let Some((lo, hi)) = bounds(stats.iter().flatten().flat_map(|s| [s.p5, s.p95, s.mean])) else {
        return no_data(b.title, b.desc, "No data");
    };
    let rows = b.rows.len();
    let xt = x_ticks(lo, hi, false, true);
    let desc = if b.desc.is_empty() {
        let mut d = format!("{rows} rows; {}.", b.x_label);
        for (r, s) in b.rows.iter().zip(&stats) {
            match s {
                Some(s) => {
                    let _ = write!(
                        d,
                        " {}: median {}, middle half {} to {}.",
                        r.name,
                        format_value(s.median),
                        format_value(s.q1),
                        format_value(s.q3)
                    );
                }
                None => {
                    let _ = write!(d, " {}: no data.", r.name);
                }
            }
        }
        d
    } else {
        b.desc.to_string()
    };
    const ROW: u32 = 40;
    let height = 80 + ROW * rows as u32;
    // Names get at most a third of the width, at phone size.
    const NAME_ROOM: u32 = WIDTH / 3;
    let names: Vec<String> =
        b.rows.iter().map(|r| shortened(r.name, ((NAME_ROOM - 24) / CHAR_UNITS) as usize)).collect();
    let name_width = 24 + label_room(names.iter().map(String::as_str));
    let mut buf = String::new();
    let mut tips = String::new();
    let drawn = (|| -> Result<(), DrawError> {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        // Row i sits at y = rows − 1 − i, so the first row is at the top.
        let row_y = |i: usize| (rows - 1 - i) as f64;
        let mut c = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(28)
            .x_label_area_size(58)
            .y_label_area_size(name_width)
            .build_cartesian_2d(
                xt.axis(),
                TickAxis { lo: -0.5, hi: rows as f64 - 0.5, ticks: (0..rows).map(row_y).collect() },
            )
            .map_err(err)?;
        let x_fmt = |v: &f64| xt.label(*v);
        let y_fmt = |v: &f64| {
            let from_top = rows as f64 - 1.0 - v.round();
            if from_top >= 0.0 { names.get(from_top as usize).cloned().unwrap_or_default() } else { String::new() }
        };
        c.configure_mesh()
            .x_desc(b.x_label)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FONT, LABEL_SIZE).into_font().color(&TEXT))
            .axis_desc_style((FONT, DESC_SIZE).into_font().color(&TEXT))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .disable_y_mesh()
            .draw()
            .map_err(err)?;
        for (i, (r, s)) in b.rows.iter().zip(&stats).enumerate() {
            let y = row_y(i);
            let Some(s) = s else {
                let style = (FONT, LABEL_SIZE).into_font().color(&AXIS).pos(Pos::new(HPos::Left, VPos::Center));
                c.draw_series([Text::new("no data", (xt.range.0, y), style)]).map_err(err)?;
                continue;
            };
            let base = color(i);
            let line = ShapeStyle::from(&base).stroke_width(2);
            c.draw_series([PathElement::new(vec![(s.p5, y), (s.p95, y)], line)]).map_err(err)?;
            for end in [s.p5, s.p95] {
                c.draw_series([PathElement::new(vec![(end, y - 0.15), (end, y + 0.15)], line)]).map_err(err)?;
            }
            c.draw_series([Rectangle::new([(s.q1, y - 0.3), (s.q3, y + 0.3)], base.mix(0.3).filled())]).map_err(err)?;
            c.draw_series([Rectangle::new([(s.q1, y - 0.3), (s.q3, y + 0.3)], line)]).map_err(err)?;
            c.draw_series([PathElement::new(vec![(s.median, y - 0.3), (s.median, y + 0.3)], base.stroke_width(3))])
                .map_err(err)?;
            c.draw_series([Circle::new((s.mean, y), 4, TEXT.filled())]).map_err(err)?;
            let (x0, y0) = c.backend_coord(&(s.p5, y + 0.4));
            let (x1, y1) = c.backend_coord(&(s.p95, y - 0.4));
            let text = tip(&[
                format!("{} — {}", r.name, b.x_label),
                format!("n: {}", s.n),
                format!("mean: {}", format_value(s.mean)),
                format!("median: {}", format_value(s.median)),
                format!("25th–75th percentile: {} to {}", format_value(s.q1), format_value(s.q3)),
                format!("5th–95th percentile: {} to {}", format_value(s.p5), format_value(s.p95)),
            ]);
            let _ = writeln!(
                tips,
                "<rect x=\"{}\" y=\"{y0}\" width=\"{}\" height=\"{}\"><title>{text}</title></rect>",
                x0 - 4,
                (x1 - x0).max(0) + 8,
                (y1 - y0).max(1)
            );
        }
        root.present().map_err(err)
    })();
    match drawn {
        Ok(()) => finish(&buf, b.title, &desc, height, &tips),
        Err(e) => no_data(b.title, b.desc, &format!("The chart could not be drawn: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for the property tests (xorshift64*).
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// A value of random sign and a magnitude spread log-uniformly over 10^-6..10^9.
        fn value(&mut self) -> f64 {
            let sign = if self.next().is_multiple_of(2) { 1.0 } else { -1.0 };
            sign * 10f64.powf(-6.0 + 15.0 * self.unit())
        }
    }

    /// Checks the tick invariants; `covering`: the ticks enclose [lo, hi], else they lie inside it.
    fn check(t: &Ticks, lo: f64, hi: f64, target: usize, integer: bool, covering: bool) {
        let ctx = format!("{t:?} for [{lo:e}, {hi:e}] target {target} integer {integer}");
        assert!([1, 2, 5].contains(&t.mantissa), "{ctx}");
        let step = t.step();
        assert!(step > 0.0 && step.is_finite(), "{ctx}");
        if integer {
            assert!(step >= 1.0, "{ctx}");
        }
        assert!(t.values.len() >= 2, "{ctx}");
        assert!(t.values.len() <= target + 2, "too many ticks: {ctx}");
        for (k, v) in t.values.iter().enumerate() {
            let multiple = v / step;
            assert!((multiple - multiple.round()).abs() < 1e-6, "{v:e} is not a multiple of {step:e}: {ctx}");
            // Each tick is the f64 nearest to its decimal value, so its label is exact.
            assert_eq!(*v, decimal(multiple.round() as i64 * t.mantissa, t.exponent), "{ctx}");
            if k > 0 {
                let gap = v - t.values[k - 1];
                assert!((gap / step - 1.0).abs() < 1e-6, "uneven ticks: {ctx}");
            }
            let label = t.label(*v).replace('\u{2212}', "-");
            let parsed: f64 = label.parse().unwrap_or(f64::NAN);
            assert!((parsed - v).abs() <= step * 1e-6, "label {label} for {v:e}: {ctx}");
        }
        let labels: Vec<String> = t.values.iter().map(|v| t.label(*v)).collect();
        let mut distinct = labels.clone();
        distinct.dedup();
        assert_eq!(distinct, labels, "{ctx}");
        let (first, last) = (t.values[0], t.values[t.values.len() - 1]);
        if covering {
            assert!(first <= lo && last >= hi, "ticks do not cover the data: {ctx}");
            assert_eq!(t.range, (first, last), "{ctx}");
        } else {
            let slack = step * 1e-9;
            assert!(first >= lo - slack && last <= hi + slack, "ticks outside the range: {ctx}");
        }
    }

    #[test]
    fn ticks_are_round_and_cover_awkward_ranges() {
        let awkward = [
            (-724.4, 100.2),
            (-312.1, 100.2),
            (0.0, 1.0),
            (0.001, 0.0013),
            (-0.3, 0.3),
            (1e9, 1e9 + 3.0),
            (-1e-7, 1e-7),
            (99.99, 100.01),
            (0.1, 0.7),
            (3.0, 3.3),
            (-5.0, -4.999),
            (123_456.7, 987_654.3),
        ];
        for (lo, hi) in awkward {
            for target in [3, 5, 6, 8, 12] {
                check(&Ticks::covering(lo, hi, target, false), lo, hi, target, false, true);
            }
        }
        let t = Ticks::covering(-724.4, 100.2, 6, false);
        assert_eq!(t.values, vec![-800.0, -600.0, -400.0, -200.0, 0.0, 200.0]);
        assert_eq!(t.label(-800.0), "\u{2212}800");
        let t = Ticks::covering(0.1, 0.7, 6, false);
        assert_eq!(t.values, vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
        assert_eq!(t.label(0.3), "0.3");
    }

    #[test]
    fn ticks_are_round_and_cover_random_ranges() {
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let a = g.value();
            // Spans from 10^-6 of the value up to many times it, or a second random value.
            let b =
                if g.next().is_multiple_of(2) { a + a.abs() * 10f64.powf(-6.0 + 8.0 * g.unit()) } else { g.value() };
            let (lo, hi) = (a.min(b), a.max(b));
            let target = 2 + (g.next() % 11) as usize;
            let integer = g.next().is_multiple_of(4);
            check(&Ticks::covering(lo, hi, target, integer), lo, hi, target, integer, true);
            let inside = Ticks::inside(lo, hi, target, integer);
            if inside.range == (lo, hi) {
                check(&inside, lo, hi, target, integer, false);
            } else {
                // Too few round values inside: it falls back to covering ticks.
                check(&inside, inside.range.0, inside.range.1, target, integer, true);
            }
        }
    }

    #[test]
    fn degenerate_ranges_get_a_range_around_the_value() {
        for (lo, hi) in [(0.0, 0.0), (5.0, 5.0), (-3.25, -3.25), (f64::NAN, f64::NAN), (1.0, f64::INFINITY), (2.0, 1.0)]
        {
            for integer in [false, true] {
                let t = Ticks::covering(lo, hi, 5, integer);
                let (l, h) =
                    (if lo.is_finite() { lo.min(hi) } else { hi }, if hi.is_finite() { hi.max(lo) } else { lo });
                let (l, h) = if l.is_finite() { (l, h) } else { (0.0, 0.0) };
                check(&t, l, h, 5, integer, true);
                assert!(t.range.0 < t.range.1);
            }
        }
    }

    #[test]
    fn tick_labels_use_as_many_decimals_as_the_step() {
        let t = Ticks::covering(0.0, 0.01, 5, false);
        assert_eq!((t.mantissa, t.exponent), (2, -3));
        assert_eq!(
            t.values.iter().map(|v| t.label(*v)).collect::<Vec<_>>(),
            ["0.000", "0.002", "0.004", "0.006", "0.008", "0.010"]
        );
        let t = Ticks::covering(-1.0, 1.0, 4, false);
        assert_eq!(
            t.values.iter().map(|v| t.label(*v)).collect::<Vec<_>>(),
            ["\u{2212}1.0", "\u{2212}0.5", "0.0", "0.5", "1.0"]
        );
    }

    /// The texts drawn as `<text>` elements (plotters writes each on its own line).
    fn texts(svg: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find("<text") {
            rest = &rest[start..];
            let Some(open_end) = rest.find('>') else { break };
            let Some(close) = rest.find("</text>") else { break };
            out.push(rest[open_end + 1..close].trim().to_string());
            rest = &rest[close..];
        }
        out
    }

    /// The `<title>` texts of the hover targets.
    fn tooltips(svg: &str) -> Vec<String> {
        let tips = svg.split_once("<g class=\"chart-tips\"").map_or("", |(_, t)| t);
        tips.split("<title>").skip(1).filter_map(|t| t.split_once("</title>").map(|(a, _)| a.to_string())).collect()
    }

    /// Checks that elements nest properly (a small XML well-formedness check without a parser).
    fn assert_balanced(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            rest = &rest[start + 1..];
            let end = rest.find('>').expect("unclosed tag");
            let tag = &rest[..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap_or(""));
            }
            assert!(!tag.contains('<'), "raw < inside a tag: {tag}");
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    fn two_series() -> (Points, Points) {
        (
            (1..=10).map(|e| (e as f64, -724.4 + 82.46 * e as f64)).collect(),
            (1..=10).map(|e| (e as f64, -312.1 + 10.0 * e as f64)).collect(),
        )
    }

    #[test]
    fn a_line_chart_has_round_ticks_axis_labels_legend_and_tooltips() {
        let (a, b) = two_series();
        let svg = lines(&LineChart {
            title: "Mean edge by epoch",
            desc: "",
            x_label: "epoch",
            y_label: "edge per epoch (Y)",
            series: &[Series::new("alpha", &a), Series::new("beta", &b)],
            y_range: None,
        });
        assert_balanced(&svg);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 800 "));
        assert!(
            svg.contains("width=\"100%\"")
                && svg.contains("role=\"img\"")
                && svg.contains("aria-label=\"Mean edge by epoch\"")
        );
        assert!(svg.contains("<title>Mean edge by epoch</title>") && svg.contains("<desc>2 series;"));
        let texts = texts(&svg);
        for label in ["epoch", "edge per epoch (Y)", "alpha", "beta"] {
            assert!(texts.iter().any(|t| t == label), "{label} not drawn: {texts:?}");
        }
        // The y data run from −724.4 + 82.46 = −641.94 to 100.2: ticks every 200 from −800 to 200.
        for tick in ["\u{2212}800", "\u{2212}600", "\u{2212}400", "\u{2212}200", "0", "200"] {
            assert!(texts.iter().any(|t| t == tick), "tick {tick} missing: {texts:?}");
        }
        for tick in ["2", "4", "6", "8", "10"] {
            assert!(texts.iter().any(|t| t == tick), "x tick {tick} missing: {texts:?}");
        }
        assert!(!svg.contains("724.4") && !svg.contains("641.9\n"), "a data value used as a tick");
        let tips = tooltips(&svg);
        assert_eq!(tips.len(), 20);
        assert!(tips.contains(&"alpha\nepoch: 10.00\nedge per epoch (Y): 100.20".to_string()), "{tips:?}");
        assert!(tips.contains(&"beta\nepoch: 1.00\nedge per epoch (Y): -302.10".to_string()), "{tips:?}");
    }

    #[test]
    fn tooltips_sit_on_the_points() {
        let points = [(0.0, 0.0), (10.0, 100.0)];
        let svg = lines(&LineChart {
            title: "t",
            desc: "d",
            x_label: "x",
            y_label: "y",
            series: &[Series::new("s", &points)],
            y_range: None,
        });
        assert!(svg.contains("<desc>d</desc>"));
        // The marker circles plotters drew and the hover targets share their centres.
        let tips = svg.split_once("<g class=\"chart-tips\"").map_or("", |(_, t)| t);
        let drawn = svg.split_once("<g class=\"chart-tips\"").map_or("", |(d, _)| d);
        for target in tips.split("<circle ").skip(1) {
            let centre = target.split(" r=").next().unwrap_or("");
            assert!(drawn.contains(centre), "no point drawn at {centre}");
        }
        assert_eq!(tips.matches("<circle ").count(), 2);
    }

    #[test]
    fn untrusted_names_and_labels_are_escaped() {
        let evil = "<script>alert('x')</script>&\"";
        let points = [(1.0, 1.0), (2.0, 2.0)];
        let values = [1.0, 2.0, 3.0];
        let svgs = [
            lines(&LineChart {
                title: evil,
                desc: evil,
                x_label: evil,
                y_label: evil,
                series: &[Series::new(evil, &points), Series::new("b", &points)],
                y_range: None,
            }),
            scatter(&LineChart {
                title: evil,
                desc: "",
                x_label: evil,
                y_label: evil,
                series: &[Series::new(evil, &points)],
                y_range: None,
            }),
            histogram(&Histogram {
                title: evil,
                desc: "",
                x_label: evil,
                y_label: evil,
                values: &values,
                markers: &[Marker { name: evil, value: 2.0 }],
            }),
            boxes(&BoxChart { title: evil, desc: "", x_label: evil, rows: &[BoxRow { name: evil, values: &values }] }),
            lines(&LineChart { title: evil, desc: evil, x_label: evil, y_label: evil, series: &[], y_range: None }),
        ];
        for svg in svgs {
            assert!(!svg.to_lowercase().contains("<script"), "{svg}");
            assert!(svg.contains("&lt;script&gt;"), "{svg}");
            assert_balanced(&svg);
            assert!(!svg.contains("\"&\"") && !svg.contains("'x')"), "unescaped quote or ampersand");
        }
    }

    #[test]
    fn control_characters_and_long_names_are_tamed_in_the_drawing() {
        let points = [(1.0, 1.0)];
        let name = format!("a\u{7}b{}", "x".repeat(100));
        let svg = lines(&LineChart {
            title: "t",
            desc: "",
            x_label: "x",
            y_label: "y",
            series: &[Series::new(&name, &points), Series::new("b", &points)],
            y_range: None,
        });
        assert!(!svg.contains('\u{7}'));
        let drawn = texts(&svg);
        assert!(
            drawn.iter().any(|t| t.starts_with("a b") && t.ends_with('…') && t.chars().count() == NAME_CHARS),
            "{drawn:?}"
        );
        // The tooltip keeps the whole name.
        assert!(tooltips(&svg).iter().any(|t| t.contains(&"x".repeat(100))));
    }

    #[test]
    fn a_highlighted_series_is_drawn_over_the_muted_others() {
        let (a, b) = two_series();
        let svg = lines(&LineChart {
            title: "t",
            desc: "",
            x_label: "epoch",
            y_label: "edge (Y)",
            series: &[Series::new("mine", &a).highlighted(), Series::new("other", &b)],
            y_range: None,
        });
        let mine = svg.find("stroke=\"#0072B2\" stroke-width=\"3\"").expect("highlighted line");
        let other = svg.find("stroke=\"#D55E00\" stroke-width=\"1\"").expect("muted line");
        assert!(other < mine, "the highlighted series must be drawn last");
    }

    #[test]
    fn a_histogram_has_round_bins_counts_in_tooltips_and_markers() {
        // 200 values spread over [−312.1, 424.2].
        let values: Vec<f64> = (0..200).map(|i| -312.1 + 3.7 * ((i * 7919) % 200) as f64).collect();
        let svg = histogram(&Histogram {
            title: "Edge per seed",
            desc: "",
            x_label: "edge (Y)",
            y_label: "seeds",
            values: &values,
            markers: &[Marker { name: "normalizer", value: -100.0 }],
        });
        assert_balanced(&svg);
        let texts = texts(&svg);
        for label in ["edge (Y)", "seeds", "normalizer", "\u{2212}400", "0", "400"] {
            assert!(texts.iter().any(|t| t == label), "{label} missing: {texts:?}");
        }
        let tips = tooltips(&svg);
        assert!(tips.contains(&"normalizer\nedge (Y): -100.00".to_string()), "{tips:?}");
        // Bins are 50 wide from −350: the counts in the tooltips add up to all values.
        let mut total = 0;
        for t in tips.iter().filter(|t| t.starts_with("edge (Y): ")) {
            let (range, count) = t.split_once("\nseeds: ").expect("bin tooltip");
            let (from, to) = range.trim_start_matches("edge (Y): ").split_once(" to ").expect("bin range");
            let (from, to): (f64, f64) = (from.parse().unwrap_or(f64::NAN), to.parse().unwrap_or(f64::NAN));
            assert_eq!(to - from, 50.0, "{t}");
            assert_eq!(from % 50.0, 0.0, "{t}");
            let in_bin = values.iter().filter(|v| **v >= from && (**v < to || (to >= 424.2 && **v <= to))).count();
            assert_eq!(count.parse::<usize>().ok(), Some(in_bin), "{t}");
            total += in_bin;
        }
        assert_eq!(total, values.len());
    }

    #[test]
    fn a_box_chart_has_names_and_statistics_in_tooltips() {
        let values: Vec<f64> = (0..=100).map(f64::from).collect();
        let svg = boxes(&BoxChart {
            title: "Edge distribution",
            desc: "",
            x_label: "edge per simulation (Y)",
            rows: &[BoxRow { name: "alpha", values: &values }, BoxRow { name: "empty", values: &[] }],
        });
        assert_balanced(&svg);
        let texts = texts(&svg);
        for label in ["alpha", "empty", "no data", "edge per simulation (Y)", "0", "20", "100"] {
            assert!(texts.iter().any(|t| t == label), "{label} missing: {texts:?}");
        }
        let tips = tooltips(&svg);
        assert_eq!(tips.len(), 1);
        assert_eq!(
            tips[0],
            "alpha — edge per simulation (Y)\nn: 101\nmean: 50.00\nmedian: 50.00\n25th–75th percentile: 25.00 to 75.00\n5th–95th percentile: 5.00 to 95.00"
        );
    }

    #[test]
    fn empty_constant_and_non_finite_data_do_not_panic() {
        let constant = [(1.0, 7.0), (2.0, 7.0), (3.0, 7.0)];
        let single = [(1.0, 0.0)];
        let junk = [(f64::NAN, 1.0), (1.0, f64::INFINITY)];
        let cases: [&[Series<'_>]; 5] = [
            &[],
            &[Series::new("empty", &[])],
            &[Series::new("constant", &constant)],
            &[Series::new("single", &single)],
            &[Series::new("junk", &junk), Series::new("empty", &[])],
        ];
        for series in cases {
            for svg in [
                lines(&LineChart { title: "t", desc: "", x_label: "x", y_label: "y", series, y_range: None }),
                scatter(&LineChart {
                    title: "t",
                    desc: "",
                    x_label: "x",
                    y_label: "y",
                    series,
                    y_range: Some((0.0, 100.0)),
                }),
            ] {
                assert_balanced(&svg);
                assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
            }
        }
        let no_data =
            lines(&LineChart { title: "t", desc: "", x_label: "x", y_label: "y", series: &[], y_range: None });
        assert!(texts(&no_data).contains(&"No data".to_string()));
        let constant = lines(&LineChart {
            title: "t",
            desc: "",
            x_label: "x",
            y_label: "y",
            series: &[Series::new("c", &[(1.0, 7.0), (2.0, 7.0)])],
            y_range: None,
        });
        assert!(tooltips(&constant).contains(&"c\nx: 2.00\ny: 7.00".to_string()));
        for values in [
            &[][..],
            &[5.0][..],
            &[5.0, 5.0, 5.0][..],
            &[f64::NAN, f64::INFINITY][..],
            &[0.0][..],
            &[-1e300, 1e300][..],
        ] {
            let svg = histogram(&Histogram { title: "t", desc: "", x_label: "x", y_label: "n", values, markers: &[] });
            assert_balanced(&svg);
            let svg = boxes(&BoxChart { title: "t", desc: "", x_label: "x", rows: &[BoxRow { name: "r", values }] });
            assert_balanced(&svg);
        }
        let svg =
            histogram(&Histogram { title: "t", desc: "", x_label: "x", y_label: "n", values: &[5.0; 3], markers: &[] });
        assert!(tooltips(&svg).iter().any(|t| t.ends_with("\nn: 3")), "{:?}", tooltips(&svg));
        assert_balanced(&boxes(&BoxChart { title: "t", desc: "", x_label: "x", rows: &[] }));
    }

    #[test]
    fn the_same_data_gives_the_same_bytes() {
        let (a, b) = two_series();
        let draw = || {
            lines(&LineChart {
                title: "t",
                desc: "",
                x_label: "x",
                y_label: "y",
                series: &[Series::new("a", &a), Series::new("b", &b)],
                y_range: None,
            })
        };
        assert_eq!(draw(), draw());
    }

    /// (x, y, text) of each `<text>` element.
    fn placed_texts(svg: &str) -> Vec<(i32, i32, String)> {
        svg.split("<text ")
            .skip(1)
            .filter_map(|t| {
                let (attrs, rest) = t.split_once('>')?;
                let (text, _) = rest.split_once("</text>")?;
                let attr = |name: &str| -> Option<i32> {
                    attrs
                        .split_once(&format!("{name}=\""))
                        .and_then(|(_, r)| r.split_once('"'))
                        .and_then(|(v, _)| v.parse().ok())
                };
                Some((attr("x")?, attr(" y").or_else(|| attr("y"))?, text.trim().to_string()))
            })
            .collect()
    }

    #[test]
    fn labels_have_room_at_phone_size() {
        // Long names, twelve-digit seeds on the x axis.
        let names: Vec<String> = (0..5).map(|i| format!("strategy-with-a-long-name-{i}")).collect();
        let points: Vec<Points> =
            (0..5).map(|i| (0..200).map(|s| (1e11 + f64::from(5 * s), f64::from(s * i))).collect()).collect();
        let series: Vec<Series<'_>> = names.iter().zip(&points).map(|(n, p)| Series::new(n, p)).collect();
        let svg = scatter(&LineChart {
            title: "t",
            desc: "",
            x_label: "seed",
            y_label: "edge (Y)",
            series: &series,
            y_range: None,
        });
        assert!(CSS.contains("@media (max-width:600px){svg.chart text{font-size:20px}}"));
        assert_eq!(svg.matches("<style>").count(), 1);
        assert!(svg.contains(&format!("<style>{CSS}</style>")));
        let texts = placed_texts(&svg);
        // Texts on one row (same y, left-aligned legend entries or centred x ticks) do not overlap.
        let mut rows: std::collections::BTreeMap<i32, Vec<(i32, String)>> = Default::default();
        for (x, y, text) in texts {
            rows.entry(y).or_default().push((x, text));
        }
        let mut checked = 0;
        for (y, mut row) in rows {
            row.sort();
            for pair in row.windows(2) {
                let ((x0, a), (x1, b)) = (&pair[0], &pair[1]);
                let legend = a.starts_with("strategy");
                // Legend entries start at their x; tick labels are centred on it.
                let needed = if legend {
                    CHAR_UNITS as usize * a.chars().count()
                } else {
                    CHAR_UNITS as usize * (a.chars().count() + b.chars().count()) / 2
                };
                assert!((x1 - x0) as usize >= needed, "{a:?} at {x0} and {b:?} at {x1} overlap (row y={y})");
                checked += 1;
            }
        }
        assert!(checked >= 3, "{checked}");
    }

    #[test]
    fn all_text_lies_inside_the_chart() {
        let one = [(1.0, 2.0), (2.0, 3.0)];
        let names: Vec<String> = (0..11).map(|i| format!("a rather long strategy name {i}")).collect();
        let many: Vec<Series<'_>> = names.iter().map(|n| Series::new(n, &one)).collect();
        let values: Vec<f64> = (0..50).map(f64::from).collect();
        let rows: Vec<BoxRow<'_>> = names.iter().map(|n| BoxRow { name: n, values: &values }).collect();
        fn line(series: &[Series<'_>]) -> String {
            lines(&LineChart { title: "t", desc: "", x_label: "x", y_label: "y", series, y_range: None })
        }
        let hist = |markers: &[Marker<'_>]| {
            histogram(&Histogram { title: "t", desc: "", x_label: "x", y_label: "n", values: &values, markers })
        };
        let svgs = [
            line(&[Series::new("only", &one)]),
            line(&many),
            hist(&[]),
            hist(&[Marker { name: "m", value: 3.0 }]),
            boxes(&BoxChart { title: "t", desc: "", x_label: "x", rows: &rows }),
        ];
        for svg in svgs {
            let (width, height) = svg
                .split_once("viewBox=\"0 0 ")
                .and_then(|(_, r)| r.split_once('"'))
                .and_then(|(v, _)| v.split_once(' '))
                .and_then(|(w, h)| Some((w.parse::<i32>().ok()?, h.parse::<i32>().ok()?)))
                .expect("viewBox");
            let texts = placed_texts(&svg);
            assert!(!texts.is_empty());
            for (x, y, text) in texts {
                assert!(
                    (0..=width).contains(&x) && (8..height).contains(&y),
                    "{text:?} at ({x}, {y}) in {width}×{height}"
                );
            }
        }
        // A single series is named in a legend; a histogram without reference lines has none.
        assert!(texts(&line(&[Series::new("only", &one)])).contains(&"only".to_string()));
        let count_n = |svg: &str| texts(svg).iter().filter(|t| *t == "n").count();
        assert_eq!(count_n(&hist(&[])), 1, "the axis label only");
        assert_eq!(count_n(&hist(&[Marker { name: "m", value: 3.0 }])), 2, "the axis label and the legend");
    }

    #[test]
    fn palette_colours_contrast_at_least_3_to_1_with_white() {
        let luminance = |c: RGBColor| {
            let lin = |v: u8| {
                let v = f64::from(v) / 255.0;
                if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
            };
            0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
        };
        for (i, hex) in PALETTE.iter().enumerate() {
            let ratio = 1.05 / (luminance(color(i)) + 0.05);
            assert!(ratio >= 3.0, "{hex} contrasts only {ratio:.2}:1");
        }
        let distinct: std::collections::BTreeSet<&str> = PALETTE.iter().copied().collect();
        assert_eq!(distinct.len(), PALETTE.len());
    }
}
