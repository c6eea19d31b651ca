//! The report's charts, drawn by `plotters` into inline SVG (its SVG backend writes text as
//! `<text>` elements that the browser lays out with its own CJK font, so nothing depends
//! on a font at build time and the bytes are the same on every machine).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::review::display_width;

const WIDTH: u32 = 1100;
const ROW: u32 = 26;
const FONT: &str = "sans-serif";
/// 钱表 blue, and the colours of what is still held and what is below target.
pub(crate) const BLUE: RGBColor = RGBColor(0x2F, 0x5D, 0x8A);
const LIGHT: RGBColor = RGBColor(0xB8, 0xCC, 0xE0);
const RED: RGBColor = RGBColor(0xC0, 0x39, 0x2B);
const GREEN: RGBColor = RGBColor(0x3A, 0x8F, 0x5C);

/// `1234567.8` as `1,234,568`; two decimals below 100.
pub(crate) fn thousands(x: f64) -> String {
    if x.abs() < 100.0 && x.fract() != 0.0 {
        return format!("{x:.2}");
    }
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

fn label_area(labels: &[String]) -> u32 {
    let w = labels.iter().map(|l| display_width(l)).max().unwrap_or(4) as u32;
    (w * 7 + 16).clamp(60, 280)
}

/// Shortens a label to about `max` display columns.
fn short(s: &str, max: usize) -> String {
    if display_width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if display_width(&out) + 3 > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The label of a category slot (slot 0 is the bottom bar, the last label's).
fn label_at(labels: &[String], v: &SegmentValue<i32>) -> String {
    let n = labels.len() as i32;
    match v {
        SegmentValue::CenterOf(i) if (0..n).contains(i) => labels[(n - 1 - i) as usize].clone(),
        _ => String::new(),
    }
}

/// Horizontal bars, one series each: plotters' `Histogram` sums its data in a hash map,
/// whose order would change the SVG from run to run; one bar per series keeps it fixed.
fn bars<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<
            plotters::coord::types::RangedCoordf64,
            plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordi32>,
        >,
    >,
    bars: impl IntoIterator<Item = (i32, f64)>,
    style: ShapeStyle,
    margin: u32,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    for (slot, v) in bars {
        chart
            .draw_series(
                Histogram::horizontal(chart)
                    .style(style)
                    .margin(margin)
                    .data([(slot, v)]),
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The chart of horizontal bars every chart here draws on: one row per label (the first
/// label on top), x from 0 to `max` with six labels written by `x_fmt`, no row lines.
type HBarChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordi32>,
    >,
>;

fn hbar_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    labels: &[String],
    max: f64,
    x_fmt: &dyn Fn(&f64) -> String,
    x_desc: &str,
) -> Result<HBarChart<'a, 'b>, Box<dyn std::error::Error>> {
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(label_area(labels))
        .build_cartesian_2d(0f64..max, (0..n as i32 - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(n)
        .y_label_formatter(&|v| label_at(labels, v))
        .x_labels(6)
        .x_label_formatter(x_fmt)
        .x_desc(x_desc)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 15))
        .draw()?;
    Ok(chart)
}

fn failed(e: impl std::fmt::Display) -> String {
    format!(
        "<p class=\"empty\">图表无法生成：{}</p>",
        crate::html::esc(&e.to_string())
    )
}

/// Horizontal bars, largest first at the top, each with its value at its end.
pub(crate) fn hbar(labels: &[String], values: &[f64], x_desc: &str) -> String {
    draw_hbar(labels, values, x_desc).unwrap_or_else(failed)
}

fn draw_hbar(
    labels: &[String],
    values: &[f64],
    x_desc: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let n = labels.len().max(1);
    let labels: Vec<String> = labels.iter().map(|l| short(l, 36)).collect();
    let max = values.iter().copied().fold(0.0, f64::max).max(1.0) * 1.18;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, 56 + ROW * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = hbar_axes(&root, &labels, max, &|x| thousands(*x), x_desc)?;
        let top = |i: usize| (n - 1 - i) as i32;
        bars(
            &mut chart,
            values.iter().enumerate().map(|(i, v)| (top(i), *v)),
            BLUE.filled(),
            5,
        )?;
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            Text::new(
                format!(" {}", thousands(*v)),
                (*v, SegmentValue::CenterOf(top(i))),
                style.clone(),
            )
        }))?;
        root.present()?;
    }
    Ok(svg)
}

/// One collector's bar: booked, deposited, still held.
pub(crate) struct Held {
    pub label: String,
    pub booked: f64,
    pub deposited: f64,
}

/// Booked money as a light bar with the deposited money as a darker bar inside it; the
/// light part left over is what the collector still holds, written at the bar's end.
pub(crate) fn held(rows: &[Held]) -> String {
    draw_held(rows).unwrap_or_else(failed)
}

fn draw_held(rows: &[Held]) -> Result<String, Box<dyn std::error::Error>> {
    let n = rows.len().max(1);
    let labels: Vec<String> = rows.iter().map(|r| short(&r.label, 30)).collect();
    let max = rows
        .iter()
        .map(|r| r.booked.max(r.deposited))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.35;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, 84 + ROW * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = hbar_axes(&root, &labels, max, &|x| thousands(*x), "金额（元）")?;
        let top = |i: usize| (n - 1 - i) as i32;
        bars(
            &mut chart,
            rows.iter().enumerate().map(|(i, r)| (top(i), r.booked)),
            LIGHT.filled(),
            4,
        )?;
        bars(
            &mut chart,
            rows.iter().enumerate().map(|(i, r)| (top(i), r.deposited)),
            BLUE.filled(),
            9,
        )?;
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        let red = style.clone().color(&RED);
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let held = r.booked - r.deposited;
            let (text, s) = if held > 0.005 {
                (format!(" 未解缴 {}", thousands(held)), red.clone())
            } else if held < -0.005 {
                (format!(" 多解缴 {}", thousands(-held)), style.clone())
            } else {
                (" 已全部解缴".to_string(), style.clone())
            };
            Text::new(
                text,
                (r.booked.max(r.deposited), SegmentValue::CenterOf(top(i))),
                s,
            )
        }))?;
        root.present()?;
    }
    Ok(svg)
}

/// One village's coverage in a band.
pub(crate) struct Rate {
    pub label: String,
    pub rate: f64,
    pub below: bool,
}

/// Coverage rate per village as bars (red below the target), the target as a dashed line.
pub(crate) fn coverage(rows: &[Rate], target: Option<f64>) -> String {
    draw_coverage(rows, target).unwrap_or_else(failed)
}

fn draw_coverage(rows: &[Rate], target: Option<f64>) -> Result<String, Box<dyn std::error::Error>> {
    let n = rows.len().max(1);
    let labels: Vec<String> = rows.iter().map(|r| short(&r.label, 30)).collect();
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, 84 + ROW * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = hbar_axes(
            &root,
            &labels,
            1.12,
            &|x| format!("{:.0}%", x * 100.0),
            "参保率",
        )?;
        let top = |i: usize| (n - 1 - i) as i32;
        for (i, r) in rows.iter().enumerate() {
            let colour = if r.below { RED } else { GREEN };
            bars(&mut chart, [(top(i), r.rate)], colour.filled(), 5)?;
        }
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            Text::new(
                format!(" {:.1}%", r.rate * 100.0),
                (r.rate, SegmentValue::CenterOf(top(i))),
                style.clone(),
            )
        }))?;
        if let Some(t) = target {
            chart.draw_series(DashedLineSeries::new(
                [(t, SegmentValue::Exact(0)), (t, SegmentValue::Last)],
                6,
                4,
                BLACK.stroke_width(2),
            ))?;
        }
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1234567.8), "1,234,568");
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(-1500.0), "-1,500");
        assert_eq!(thousands(12.5), "12.50");
    }

    #[test]
    fn bars_are_svg_with_labels() {
        let svg = hbar(
            &["店子村".into(), "西村".into()],
            &[320.0, 1000.0],
            "金额（元）",
        );
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        assert_eq!(svg.matches("店子村").count(), 1, "one label per bar");
        assert!(svg.contains("1,000"));
        assert_eq!(
            svg,
            hbar(
                &["店子村".into(), "西村".into()],
                &[320.0, 1000.0],
                "金额（元）"
            )
        );
    }
}
