//! The staffing chart: forecast calls and required and scheduled agents over time, summed over
//! the queues, as SVG.

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::error::{Result, WfmError};
use crate::staffing::StaffingRow;

/// Renders the chart into an SVG string.
pub fn staffing_svg(rows: &[StaffingRow], title: &str) -> Result<String> {
    let mut totals: BTreeMap<i64, (f64, f64, f64)> = BTreeMap::new();
    let mut offset = None;
    for row in rows {
        let entry = totals.entry(row.interval_start.timestamp()).or_default();
        entry.0 += row.calls;
        entry.1 += f64::from(row.required_agents);
        entry.2 += f64::from(row.scheduled_agents);
        offset.get_or_insert(*row.interval_start.offset());
    }
    let (Some((&first, _)), Some((&last, _))) = (totals.first_key_value(), totals.last_key_value())
    else {
        return Err(WfmError::Unusable("nothing to chart: the staffing has no rows".into()));
    };
    let offset = offset.unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"));
    let hours = |t: i64| (t - first) as f64 / 3600.0;
    // Closed hours have no rows: draw them as zero instead of a slope across the night.
    let step = totals.keys().zip(totals.keys().skip(1)).map(|(a, b)| b - a).min().unwrap_or(1800);
    let points = |pick: fn(&(f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        let mut previous: Option<i64> = None;
        for (t, v) in &totals {
            if let Some(p) = previous.filter(|p| t - p > step) {
                points.push((hours(p + step), 0.0));
                points.push((hours(*t), 0.0));
            }
            points.push((hours(*t), pick(v)));
            previous = Some(*t);
        }
        points
    };
    let x_end = hours(last).max(1.0);
    let max_calls = totals.values().map(|v| v.0).fold(1.0, f64::max) * 1.1;
    let max_agents = totals.values().map(|v| v.2).fold(1.0, f64::max) * 1.1;
    let label = move |x: &f64| {
        let t = first + (x * 3600.0) as i64;
        chrono::DateTime::from_timestamp(t, 0)
            .map(|t| t.with_timezone(&offset).format("%a %d %H:%M").to_string())
            .unwrap_or_default()
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 500)).into_drawing_area();
        let draw = |e: String| WfmError::Unusable(format!("cannot draw the chart: {e}"));
        root.fill(&WHITE).map_err(|e| draw(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..x_end, 0.0..max_calls)
            .map_err(|e| draw(e.to_string()))?
            .set_secondary_coord(0.0..x_end, 0.0..max_agents);
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&label)
            .y_desc("forecast calls per interval")
            .draw()
            .map_err(|e| draw(e.to_string()))?;
        chart
            .configure_secondary_axes()
            .y_desc("agents")
            .draw()
            .map_err(|e| draw(e.to_string()))?;
        let calls_color = RGBColor(70, 130, 180);
        chart
            .draw_series(AreaSeries::new(points(|v| v.0), 0.0, calls_color.mix(0.3)))
            .map_err(|e| draw(e.to_string()))?
            .label("forecast calls")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], calls_color.mix(0.5).filled())
            });
        let required = RGBColor(200, 60, 40);
        chart
            .draw_secondary_series(LineSeries::new(points(|v| v.1), required.stroke_width(2)))
            .map_err(|e| draw(e.to_string()))?
            .label("required agents (on the phones)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], required.stroke_width(2))
            });
        let scheduled = RGBColor(40, 140, 70);
        chart
            .draw_secondary_series(LineSeries::new(points(|v| v.2), scheduled.stroke_width(1)))
            .map_err(|e| draw(e.to_string()))?
            .label("scheduled agents (after shrinkage)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], scheduled));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| draw(e.to_string()))?;
        root.present().map_err(|e| draw(e.to_string()))?;
    }
    Ok(svg)
}
