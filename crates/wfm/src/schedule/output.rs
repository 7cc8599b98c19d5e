//! Writing a schedule: shifts as CSV or JSON, coverage per interval, a summary and a chart.

use std::fmt::Write as _;

use plotters::prelude::*;

use super::requirement::Requirement;
use super::solve::Schedule;

fn time(requirement: &Requirement, minute: u32) -> String {
    requirement.time_at(minute).to_rfc3339()
}

/// Shifts as CSV: one row per agent-shift with start, end and each break's name, start and end.
pub fn shifts_csv(schedule: &Schedule, requirement: &Requirement) -> String {
    let max_breaks = schedule.shifts.iter().map(|s| s.breaks.len()).max().unwrap_or(0);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> =
        ["shift", "template", "start", "end", "paid_hours", "cost"].map(String::from).to_vec();
    for b in 1..=max_breaks {
        header.push(format!("break_{b}_name"));
        header.push(format!("break_{b}_start"));
        header.push(format!("break_{b}_end"));
    }
    let _ = writer.write_record(&header);
    for (index, shift) in schedule.shifts.iter().enumerate() {
        let mut row = vec![
            (index + 1).to_string(),
            shift.template.clone(),
            time(requirement, shift.start_minute),
            time(requirement, shift.end_minute),
            format!("{}", shift.paid_hours),
            format!("{}", shift.cost),
        ];
        for b in 0..max_breaks {
            match shift.breaks.get(b) {
                Some(br) => {
                    row.push(br.name.clone());
                    row.push(time(requirement, br.start_minute));
                    row.push(time(requirement, br.end_minute));
                }
                None => row.extend([String::new(), String::new(), String::new()]),
            }
        }
        let _ = writer.write_record(&row);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Shifts as a JSON array.
pub fn shifts_json(schedule: &Schedule, requirement: &Requirement) -> String {
    let shifts: Vec<_> = schedule
        .shifts
        .iter()
        .enumerate()
        .map(|(index, shift)| {
            serde_json::json!({
                "shift": index + 1,
                "template": shift.template,
                "start": time(requirement, shift.start_minute),
                "end": time(requirement, shift.end_minute),
                "paid_hours": shift.paid_hours,
                "cost": shift.cost,
                "breaks": shift.breaks.iter().map(|b| serde_json::json!({
                    "name": b.name,
                    "start": time(requirement, b.start_minute),
                    "end": time(requirement, b.end_minute),
                    "paid": b.paid,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&shifts).unwrap_or_default()
}

/// Coverage against requirement per interval, as CSV.
pub fn coverage_csv(schedule: &Schedule, requirement: &Requirement) -> String {
    let mut out = String::from("interval_start,required,scheduled,difference\n");
    for (i, (&need, &have)) in schedule.requirement.iter().zip(&schedule.coverage).enumerate() {
        let start = time(requirement, i as u32 * requirement.interval_minutes);
        let _ = writeln!(out, "{start},{},{},{}", round(need), round(have), round(have - need));
    }
    out
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0 + 0.0
}

/// A short human summary.
pub fn summary(schedule: &Schedule, requirement: &Requirement) -> String {
    let mut out = String::new();
    let short = schedule.short_intervals();
    let over = schedule.over_intervals();
    let _ = writeln!(out, "shifts:          {}", schedule.shifts.len());
    let _ = writeln!(out, "cost:            {:.2}", schedule.cost);
    let _ = writeln!(out, "paid hours:      {:.2}", schedule.paid_hours);
    let worked: f64 =
        schedule.coverage.iter().sum::<f64>() * f64::from(requirement.interval_minutes) / 60.0;
    let _ = writeln!(out, "agent-hours:     {worked:.2} on the phones");
    let _ = writeln!(
        out,
        "intervals:       {} total, {} under, {} over",
        schedule.requirement.len(),
        short.len(),
        over.len()
    );
    if !short.is_empty() {
        let _ = writeln!(
            out,
            "under-coverage:  {:.2} agent-intervals (penalty {} each)",
            schedule.under_agent_intervals, schedule.under_penalty
        );
    }
    let _ = writeln!(out, "objective:       {:.2}", schedule.objective);
    match (schedule.lower_bound, schedule.gap()) {
        (Some(bound), Some(gap)) => {
            let _ = writeln!(out, "LP lower bound:  {bound:.2}");
            let _ = writeln!(out, "gap:             {:.2} %", gap * 100.0);
        }
        _ => {
            let _ = writeln!(out, "LP lower bound:  none (the LP did not finish in time)");
        }
    }
    let _ = writeln!(
        out,
        "time:            {:.2} s{}",
        schedule.elapsed.as_secs_f64(),
        if schedule.timed_out { " (time limit reached)" } else { "" }
    );
    out
}

/// An SVG chart of requirement against scheduled coverage.
pub fn render_chart(schedule: &Schedule, requirement: &Requirement) -> Result<String, String> {
    let mut svg = String::new();
    {
        let width = (schedule.requirement.len() as u32 * 2).clamp(800, 2400);
        let root = SVGBackend::with_string(&mut svg, (width, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top =
            schedule.requirement.iter().chain(&schedule.coverage).copied().fold(1.0, f64::max)
                * 1.1;
        let n = schedule.requirement.len();
        let hours = n as f64 * f64::from(requirement.interval_minutes) / 60.0;
        let mut chart = ChartBuilder::on(&root)
            .caption("Requirement vs scheduled coverage", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..hours, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!("hours from {}", requirement.start.to_rfc3339()))
            .y_desc("agents")
            .draw()
            .map_err(|e| e.to_string())?;
        let step = f64::from(requirement.interval_minutes) / 60.0;
        let steps = |values: &[f64]| -> Vec<(f64, f64)> {
            values
                .iter()
                .enumerate()
                .flat_map(|(i, &v)| [(i as f64 * step, v), ((i + 1) as f64 * step, v)])
                .collect()
        };
        chart
            .draw_series(AreaSeries::new(steps(&schedule.coverage), 0.0, BLUE.mix(0.25)))
            .map_err(|e| e.to_string())?
            .label("scheduled")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE.mix(0.25).filled())
            });
        chart
            .draw_series(LineSeries::new(steps(&schedule.requirement), RED.stroke_width(1)))
            .map_err(|e| e.to_string())?
            .label("required")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
