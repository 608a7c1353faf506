//! The layer-analysis plot: learned layer weights (left) and linear-probe
//! dev CCC (right) versus hidden-state index, one line per dimension. PNG
//! or SVG by the file's extension, drawn with plotters.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::timeline::PlotError;
use crate::figure;
use emoscope_training::layers::LayerReport;

/// Arousal, valence, dominance colours (the meters' palette: warm, green, blue).
const COLOURS: [RGBColor; 3] = [
    RGBColor(214, 69, 65),
    RGBColor(46, 160, 67),
    RGBColor(52, 101, 164),
];
const NAMES: [&str; 3] = ["arousal", "valence", "dominance"];

/// Draws the plot of `report` into `path` (`.png` or `.svg`), 1200 × 480 pixels.
pub fn layer_plot(report: &LayerReport, path: &Path) -> Result<(), PlotError> {
    figure::register();
    let err = |e: String| PlotError::Draw {
        path: path.to_owned(),
        message: e,
    };
    let size = (1200, 480);
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(report, &root).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw(report, &root).map_err(err)?;
            root.present().map_err(|e| err(e.to_string()))
        }
        _ => Err(PlotError::Extension {
            path: path.to_owned(),
        }),
    }
}

fn draw<DB: DrawingBackend>(r: &LayerReport, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (w, h) = root.dim_in_pixel();
    let (charts, legend) = root.split_vertically(h.saturating_sub(36));
    let (left, right) = charts.split_horizontally(w / 2);
    let last = (r.states - 1) as f64;
    let weights = r.weights.to_array();
    let probes = r.probe_dev_ccc.to_array();
    let wmax = weights
        .iter()
        .flatten()
        .copied()
        .fold(1.0 / r.states as f64, f64::max)
        * 1.15;
    let ccc = r.weighted_dev_ccc.to_array();
    let title = format!(
        "Learned layer weights (dev CCC A {:.2}, V {:.2}, D {:.2})",
        ccc[0], ccc[1], ccc[2]
    );
    panel(&left, &title, "softmax weight", (0.0..wmax, last), &weights)?;
    let lo = probes
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::min)
        .max(-1.0);
    panel(
        &right,
        "Linear probe per layer",
        "dev CCC",
        (lo..1.0, last),
        &probes,
    )?;
    // One legend for both panels, centred under them.
    let font = (figure::FAMILY, 16).into_font();
    let slot = 160i32;
    let x0 = (w as i32 - slot * 3) / 2;
    for (d, name) in NAMES.iter().enumerate() {
        let x = x0 + slot * d as i32;
        let y = 16;
        legend
            .draw(&PathElement::new(
                vec![(x, y), (x + 28, y)],
                COLOURS[d].stroke_width(3),
            ))
            .map_err(e)?;
        legend
            .draw(&Circle::new((x + 14, y), 4, COLOURS[d].stroke_width(2)))
            .map_err(e)?;
        legend
            .draw(&Text::new(*name, (x + 36, y - 9), font.clone()))
            .map_err(e)?;
    }
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    (y_range, last): (std::ops::Range<f64>, f64),
    series: &[Vec<f64>; 3],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let font = figure::FAMILY;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (font, 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.2..last + 0.2, y_range)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("hidden state (0 = transformer input)")
        .y_desc(y_label)
        .x_labels((last as usize + 1).min(25))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .label_style((font, 14))
        .axis_desc_style((font, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    for (d, values) in series.iter().enumerate() {
        chart
            .draw_series(
                LineSeries::new(
                    values.iter().enumerate().map(|(i, &v)| (i as f64, v)),
                    COLOURS[d].stroke_width(2),
                )
                .point_size(4),
            )
            .map_err(e)?;
    }
    Ok(())
}
