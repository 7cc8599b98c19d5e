//! Random durations: handle times and caller patience.

use std::fmt;

use rand::Rng;

use crate::error::SimError;

/// The shape of a random duration whose mean comes from the data (forecast AHT, history).
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Exponential with the given mean (the Erlang assumption).
    Exponential,
    /// Lognormal with the given mean and this coefficient of variation (std dev / mean);
    /// real handle times are closer to this than to exponential.
    Lognormal {
        /// Standard deviation over mean, > 0.
        cv: f64,
    },
    /// Always the mean.
    Fixed,
}

impl Shape {
    /// Draws a value with mean `mean` (seconds, >= 0).
    pub fn sample(&self, mean: f64, rng: &mut impl Rng) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        match self {
            Shape::Exponential => exponential(mean, rng),
            Shape::Lognormal { cv } => {
                // If X = exp(mu + sigma Z) then E[X] = exp(mu + sigma^2/2), CV^2 = exp(sigma^2) - 1.
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * standard_normal(rng)).exp()
            }
            Shape::Fixed => mean,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Exponential => write!(f, "exponential"),
            Shape::Lognormal { cv } => write!(f, "lognormal (cv {cv})"),
            Shape::Fixed => write!(f, "fixed"),
        }
    }
}

/// How talk times are drawn. The mean per interval and queue comes from the forecast's
/// `aht_s` (or the replayed calls' `handle_s`) minus the queue's wrap-up, which the engine
/// adds itself.
#[derive(Clone, Debug, PartialEq)]
pub enum HandleModel {
    /// A parametric shape around the data's mean.
    Shape(Shape),
    /// Resample the recorded handle times of the same queue (history input only): keeps the
    /// real distribution, long tails included.
    Empirical,
    /// Each replayed call keeps its own recorded handle time; calls recorded without one
    /// (abandoned) resample the queue's (history input only).
    Recorded,
}

impl HandleModel {
    /// Parses `exponential`, `lognormal[:CV]` (CV default 1.0), `fixed`, `empirical` or
    /// `recorded`.
    pub fn parse(text: &str) -> Result<HandleModel, SimError> {
        match text {
            "empirical" => return Ok(HandleModel::Empirical),
            "recorded" => return Ok(HandleModel::Recorded),
            _ => {}
        }
        parse_shape(text, "handle").map(HandleModel::Shape)
    }
}

impl fmt::Display for HandleModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleModel::Shape(shape) => shape.fmt(f),
            HandleModel::Empirical => write!(f, "empirical"),
            HandleModel::Recorded => write!(f, "recorded"),
        }
    }
}

/// How long a waiting caller holds on before hanging up.
#[derive(Clone, Debug, PartialEq)]
pub enum Patience {
    /// Callers never hang up (the Erlang C assumption).
    Infinite,
    /// A shape with this mean, seconds. Exponential is the Erlang A assumption.
    Mean {
        /// The shape.
        shape: Shape,
        /// Mean patience, seconds.
        mean_s: f64,
    },
    /// History input only: an abandoned call's patience is its recorded wait; an answered
    /// call's is its recorded wait plus an exponential draw (memoryless) whose mean is the
    /// censored maximum-likelihood estimate, total recorded waiting time over abandoned calls.
    Recorded,
}

/// Default mean patience when nothing better is known, seconds.
pub const DEFAULT_PATIENCE_MEAN_S: f64 = 180.0;

impl Patience {
    /// Parses `none`, `exponential:MEAN_S`, `lognormal:MEAN_S[:CV]`, `fixed:S` or `recorded`.
    pub fn parse(text: &str) -> Result<Patience, SimError> {
        if text == "none" || text == "infinite" {
            return Ok(Patience::Infinite);
        }
        if text == "recorded" {
            return Ok(Patience::Recorded);
        }
        let (shape, rest) = text.split_once(':').ok_or_else(|| {
            SimError::option(
                "patience",
                format!("{text:?}: expected none, recorded, exponential:MEAN_S, lognormal:MEAN_S[:CV] or fixed:S"),
            )
        })?;
        let (mean, cv) = match rest.split_once(':') {
            Some((mean, cv)) => (mean, Some(cv)),
            None => (rest, None),
        };
        let mean_s = positive(mean, "patience")?;
        let shape = match (shape, cv) {
            ("exponential" | "exp", None) => Shape::Exponential,
            ("fixed", None) => Shape::Fixed,
            ("lognormal", cv) => Shape::Lognormal { cv: cv.map_or(Ok(1.0), |c| positive(c, "patience"))? },
            _ => {
                return Err(SimError::option(
                    "patience",
                    format!("{text:?}: expected none, recorded, exponential:MEAN_S, lognormal:MEAN_S[:CV] or fixed:S"),
                ))
            }
        };
        Ok(Patience::Mean { shape, mean_s })
    }

    /// Mean of an exponential patience (what Erlang A models), if that is what this is.
    pub fn exponential_mean_s(&self) -> Option<f64> {
        match self {
            Patience::Mean { shape: Shape::Exponential, mean_s } => Some(*mean_s),
            _ => None,
        }
    }

    /// Draws a patience in seconds; `None` for callers who never hang up.
    pub fn sample(&self, rng: &mut impl Rng) -> Option<f64> {
        match self {
            Patience::Infinite | Patience::Recorded => None,
            Patience::Mean { shape, mean_s } => Some(shape.sample(*mean_s, rng)),
        }
    }
}

impl fmt::Display for Patience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Patience::Infinite => write!(f, "none (callers never hang up)"),
            Patience::Mean { shape, mean_s } => write!(f, "{shape}, mean {mean_s} s"),
            Patience::Recorded => write!(f, "recorded"),
        }
    }
}

fn parse_shape(text: &str, option: &'static str) -> Result<Shape, SimError> {
    match text.split_once(':') {
        None if text == "exponential" || text == "exp" => Ok(Shape::Exponential),
        None if text == "fixed" => Ok(Shape::Fixed),
        None if text == "lognormal" => Ok(Shape::Lognormal { cv: 1.0 }),
        Some(("lognormal", cv)) => Ok(Shape::Lognormal { cv: positive(cv, option)? }),
        _ => Err(SimError::option(
            option,
            format!("{text:?}: expected exponential, lognormal[:CV], fixed, empirical or recorded"),
        )),
    }
}

fn positive(text: &str, option: &'static str) -> Result<f64, SimError> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(SimError::option(option, format!("{text:?} is not a positive number"))),
    }
}

/// Exponential with mean `mean`, by inversion.
pub(crate) fn exponential(mean: f64, rng: &mut impl Rng) -> f64 {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u: f64 = rng.random();
    -mean * (1.0 - u).ln()
}

/// Standard normal by Box-Muller (one of the pair; simple and exact).
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn moments(shape: &Shape, mean: f64) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| shape.sample(mean, &mut rng)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
        (m, var.sqrt() / m)
    }

    #[test]
    fn shapes_have_their_mean_and_spread() {
        let check = |shape: Shape, mean: f64, cv: f64| {
            let (m, c) = moments(&shape, mean);
            assert!((m - mean).abs() / mean < 0.01, "{shape}: mean {m}, expected {mean}");
            assert!((c - cv).abs() < 0.03, "{shape}: cv {c}, expected {cv}");
        };
        check(Shape::Exponential, 180.0, 1.0);
        check(Shape::Lognormal { cv: 0.5 }, 300.0, 0.5);
        check(Shape::Fixed, 42.0, 0.0);
    }

    #[test]
    fn parses_options() {
        assert_eq!(Patience::parse("none").ok(), Some(Patience::Infinite));
        assert_eq!(
            Patience::parse("exponential:90").ok(),
            Some(Patience::Mean { shape: Shape::Exponential, mean_s: 90.0 })
        );
        assert_eq!(
            Patience::parse("lognormal:60:0.8").ok(),
            Some(Patience::Mean { shape: Shape::Lognormal { cv: 0.8 }, mean_s: 60.0 })
        );
        assert!(Patience::parse("exponential:-1").is_err());
        assert!(Patience::parse("weibull:3").is_err());
        assert_eq!(HandleModel::parse("empirical").ok(), Some(HandleModel::Empirical));
        assert_eq!(
            HandleModel::parse("lognormal:0.7").ok(),
            Some(HandleModel::Shape(Shape::Lognormal { cv: 0.7 }))
        );
        assert!(HandleModel::parse("gamma").is_err());
    }
}
