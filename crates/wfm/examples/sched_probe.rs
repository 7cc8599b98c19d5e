use std::time::Duration;
use switchboard_wfm::schedule::{reference, solve, SolveOptions};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let peak: f64 = args[1].parse().unwrap();
    let secs: u64 = args[2].parse().unwrap();
    let requirement = reference::week_requirement(peak, 0.02);
    let templates = reference::week_templates();
    let total: f64 = requirement.agents.iter().sum();
    let options = SolveOptions {
        time_limit: Duration::from_secs(secs),
        target_gap: 0.0,
        ..SolveOptions::default()
    };
    let s = solve(&requirement, &templates, &options).unwrap();
    let over: f64 = s.coverage.iter().zip(&s.requirement).map(|(c, r)| (c - r).max(0.0)).sum();
    println!("peak {peak} {secs}s: cost {} bound {:.2} gap {:.3}% sum_req {total} trivial {:.2} over {over} elapsed {:.2}", s.cost, s.lower_bound.unwrap_or(f64::NAN), s.gap().unwrap_or(f64::NAN)*100.0, total*4.0/15.0, s.elapsed.as_secs_f64());
}
