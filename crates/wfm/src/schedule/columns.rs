//! Every concrete shift a template allows over a horizon: (template, start, break placement),
//! each with the fraction of every interval it works.

use chrono::{Datelike, Timelike};

use super::requirement::Requirement;
use super::template::ShiftTemplate;

/// One candidate shift.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Index of the template.
    pub template: usize,
    /// Start, minutes after the horizon start.
    pub start_minute: u32,
    /// Start of each break, minutes after the horizon start, in the template's order.
    pub break_starts: Vec<u32>,
    /// Cost of the shift.
    pub cost: f64,
}

/// All candidate shifts, with their coverage stored flat (interval index, fraction worked).
#[derive(Debug, Clone, Default)]
pub struct ColumnSet {
    /// The candidates.
    pub columns: Vec<Column>,
    cover_offsets: Vec<usize>,
    cover_intervals: Vec<u32>,
    cover_fractions: Vec<f64>,
}

impl ColumnSet {
    /// Enumerates every start each template allows in the horizon (the shift must end within
    /// it) and every break placement.
    pub fn enumerate(requirement: &Requirement, templates: &[ShiftTemplate]) -> ColumnSet {
        let mut set = ColumnSet { cover_offsets: vec![0], ..ColumnSet::default() };
        let horizon = requirement.horizon_minutes();
        for (t, template) in templates.iter().enumerate() {
            let placements = template.break_placements();
            for start in 0..horizon {
                if start + template.length_minutes > horizon {
                    break;
                }
                let local = requirement.local_at(start);
                let weekday = local.weekday().num_days_from_monday() as usize;
                let minute_of_day = local.hour() * 60 + local.minute();
                if local.second() != 0 || !template.allows_start(weekday, minute_of_day) {
                    continue;
                }
                for placement in &placements {
                    let break_starts: Vec<u32> = placement.iter().map(|o| start + o).collect();
                    set.push(
                        requirement,
                        template,
                        Column {
                            template: t,
                            start_minute: start,
                            break_starts,
                            cost: template.cost,
                        },
                    );
                }
            }
        }
        set
    }

    fn push(&mut self, requirement: &Requirement, template: &ShiftTemplate, column: Column) {
        let interval = requirement.interval_minutes;
        let end = column.start_minute + template.length_minutes;
        // Working segments: the shift less its breaks.
        let mut segments = Vec::with_capacity(column.break_starts.len() + 1);
        let mut from = column.start_minute;
        for (rule, &start) in template.breaks.iter().zip(&column.break_starts) {
            segments.push((from, start));
            from = start + rule.length_minutes;
        }
        segments.push((from, end));
        let first = (column.start_minute / interval) as usize;
        let last = ((end - 1) / interval) as usize;
        for index in first..=last {
            let lo = index as u32 * interval;
            let hi = lo + interval;
            let worked: u32 =
                segments.iter().map(|&(s, e)| e.min(hi).saturating_sub(s.max(lo))).sum();
            if worked > 0 {
                self.cover_intervals.push(index as u32);
                self.cover_fractions.push(f64::from(worked) / f64::from(interval));
            }
        }
        self.cover_offsets.push(self.cover_intervals.len());
        self.columns.push(column);
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when no template fits the horizon.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The intervals candidate `j` works in, with the fraction of each it works.
    pub fn cover(&self, j: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let range = self.cover_offsets[j]..self.cover_offsets[j + 1];
        self.cover_intervals[range.clone()]
            .iter()
            .zip(&self.cover_fractions[range])
            .map(|(&i, &f)| (i as usize, f))
    }
}
