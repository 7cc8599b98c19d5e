//! Double-seasonal Holt-Winters (Taylor 2003, "Short-term electricity demand forecasting using
//! double seasonal exponential smoothing"), multiplicative form: a level with additive trend,
//! an intraday cycle (one day of slots) and an intraweek cycle (one week of slots).
//!
//! ```text
//! level_t  = α y_t / (d_{t-s1} w_{t-s2}) + (1 - α)(level_{t-1} + trend_{t-1})
//! trend_t  = β (level_t - level_{t-1}) + (1 - β) trend_{t-1}
//! d_t      = δ y_t / (level_t w_{t-s2}) + (1 - δ) d_{t-s1}
//! w_t      = ω y_t / (level_t d_{t-s1}) + (1 - ω) w_{t-s2}
//! ŷ_{t+h}  = (level_t + h trend_t) d_{t+h-s1} w_{t+h-s2}
//! ```
//!
//! Contact-center specifics: positions of the week that are closed (no call in recent weeks)
//! forecast zero and do not update the state, nor do unobserved slots (holidays, gaps); the
//! level just follows its trend across them. Taylor's AR(1) residual term helps only the first
//! hours ahead and is left out: planners forecast days and weeks ahead.
//!
//! Smoothing parameters are chosen on a grid by the accuracy of forecasting the last training
//! week from the weeks before it, the horizon planners care about, rather than by one-step
//! errors, which favour parameters that chase noise.

use super::methods::Training;

/// Smoothing parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parameters {
    /// Level.
    pub alpha: f64,
    /// Trend.
    pub beta: f64,
    /// Intraday cycle.
    pub delta: f64,
    /// Intraweek cycle.
    pub omega: f64,
}

/// Used when there is too little history to choose.
pub const DEFAULT_PARAMETERS: Parameters =
    Parameters { alpha: 0.02, beta: 0.0, delta: 0.05, omega: 0.1 };

const ALPHAS: [f64; 5] = [0.002, 0.005, 0.01, 0.02, 0.05];
const BETAS: [f64; 2] = [0.0, 0.0005];
const DELTAS: [f64; 3] = [0.0, 0.01, 0.04];
const OMEGAS: [f64; 4] = [0.03, 0.06, 0.12, 0.2];

/// Seasonal indices are kept away from zero so that a quiet slot cannot blow up the level.
const MIN_INDEX: f64 = 0.02;

struct State {
    level: f64,
    trend: f64,
    daily: Vec<f64>,
    weekly: Vec<f64>,
}

/// Runs the recursion over the training data and returns the final state, or `None` when the
/// training has no open observed slot.
fn run(training: &Training<'_>, open: &[bool], p: Parameters) -> Option<State> {
    let spd = training.spd;
    let week = 7 * spd;
    let days = training.days();
    // Start values: the weekly index is each position's mean over all training weeks relative to
    // the overall mean (trend-neutral: both average over the same weeks); the level is the mean
    // of the first two weeks.
    let mut sums = vec![0.0; week];
    let mut counts = vec![0.0; week];
    for (t, v) in training.values.iter().enumerate() {
        let pos = training.week_position(t);
        if let (Some(v), true) = (v, open[pos]) {
            sums[pos] += v;
            counts[pos] += 1.0;
        }
    }
    let position_means: Vec<f64> =
        sums.iter().zip(&counts).map(|(s, c)| if *c > 0.0 { s / c } else { 0.0 }).collect();
    let open_positions = open.iter().filter(|o| **o).count();
    if open_positions == 0 {
        return None;
    }
    let overall = position_means.iter().sum::<f64>() / open_positions as f64;
    if overall <= 0.0 {
        return None;
    }
    let weekly: Vec<f64> = position_means.iter().map(|m| (m / overall).max(MIN_INDEX)).collect();
    let first = training.first_days(days.min(14));
    let (mut s, mut c) = (0.0, 0.0);
    for (t, v) in first.values.iter().enumerate() {
        if let (Some(v), true) = (v, open[training.week_position(t)]) {
            s += v / weekly[training.week_position(t)];
            c += 1.0;
        }
    }
    let mut state = State {
        level: if c > 0.0 { s / c } else { overall },
        trend: 0.0,
        daily: vec![1.0; spd],
        weekly,
    };
    for (t, v) in training.values.iter().enumerate() {
        let pos = training.week_position(t);
        let slot = t % spd;
        match (v, open[pos]) {
            (Some(y), true) => {
                let d = state.daily[slot];
                let w = state.weekly[pos];
                let previous = state.level;
                let level = p.alpha * y / (d * w) + (1.0 - p.alpha) * (previous + state.trend);
                let level = level.max(1e-9);
                state.trend = p.beta * (level - previous) + (1.0 - p.beta) * state.trend;
                state.level = level;
                state.daily[slot] =
                    (p.delta * y / (level * w) + (1.0 - p.delta) * d).max(MIN_INDEX);
                state.weekly[pos] =
                    (p.omega * y / (level * d) + (1.0 - p.omega) * w).max(MIN_INDEX);
            }
            _ => state.level = (state.level + state.trend).max(1e-9),
        }
    }
    Some(state)
}

fn predict(training: &Training<'_>, open: &[bool], state: &State, horizon_days: usize) -> Vec<f64> {
    let n = training.values.len();
    (1..=horizon_days * training.spd)
        .map(|h| {
            let t = n - 1 + h;
            let pos = training.week_position(t);
            if !open[pos] {
                return 0.0;
            }
            let level = state.level + h as f64 * state.trend;
            (level * state.daily[t % training.spd] * state.weekly[pos]).max(0.0)
        })
        .collect()
}

/// Forecast with the given parameters.
pub fn forecast_with(training: &Training<'_>, p: Parameters, horizon_days: usize) -> Vec<f64> {
    let open = training.open_mask();
    match run(training, &open, p) {
        Some(state) => predict(training, &open, &state, horizon_days),
        None => vec![0.0; horizon_days * training.spd],
    }
}

/// Chooses parameters by the WAPE of forecasting each of the last two training weeks from the
/// weeks before it (one week when there are fewer than four); the default when there are fewer
/// than three weeks.
pub fn choose_parameters(training: &Training<'_>) -> Parameters {
    let days = training.days();
    if days < 21 {
        return DEFAULT_PARAMETERS;
    }
    let origins: Vec<usize> = if days >= 28 { vec![days - 14, days - 7] } else { vec![days - 7] };
    let mut best = (f64::INFINITY, DEFAULT_PARAMETERS);
    for alpha in ALPHAS {
        for beta in BETAS {
            for delta in DELTAS {
                for omega in OMEGAS {
                    let p = Parameters { alpha, beta, delta, omega };
                    let (mut error, mut total) = (0.0, 0.0);
                    for origin in &origins {
                        let fit = training.first_days(*origin);
                        let open = fit.open_mask();
                        let actual =
                            &training.values[fit.values.len()..(origin + 7) * training.spd];
                        let Some(state) = run(&fit, &open, p) else { return DEFAULT_PARAMETERS };
                        let forecast = predict(&fit, &open, &state, 7);
                        for (f, a) in forecast.iter().zip(actual) {
                            if let Some(a) = a {
                                error += (f - a).abs();
                                total += a;
                            }
                        }
                    }
                    let wape = if total > 0.0 { error / total } else { error };
                    if wape < best.0 {
                        best = (wape, p);
                    }
                }
            }
        }
    }
    best.1
}

/// Leaves outlier days out, chooses parameters and forecasts.
pub fn forecast(training: &Training<'_>, horizon_days: usize) -> Vec<f64> {
    let cleaned = super::methods::without_outlier_days(training);
    let training = Training { values: &cleaned, ..*training };
    forecast_with(&training, choose_parameters(&training), horizon_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noiseless_double_seasonal_series_is_forecast_exactly() {
        // Four slots a day, closed on the last slot and on Sundays, a weekday factor and an
        // intraday shape; no trend.
        let daily = [0.5, 1.5, 1.0, 0.0];
        let weekday = [1.3, 1.1, 1.0, 1.0, 0.9, 0.4, 0.0];
        let value = |t: usize| 40.0 * daily[t % 4] * weekday[(t / 4) % 7];
        let values: Vec<Option<f64>> = (0..4 * 7 * 5)
            .map(|t| if weekday[(t / 4) % 7] == 0.0 { None } else { Some(value(t)) })
            .collect();
        let training = Training { values: &values, spd: 4, first_weekday: 0 };
        let forecast = forecast(&training, 7);
        for (h, f) in forecast.iter().enumerate() {
            let t = values.len() + h;
            assert!((f - value(t)).abs() < 1e-6, "slot {t}: {f} vs {}", value(t));
        }
    }
}
