//! One module per subcommand.

pub mod config;
pub mod erlang;
pub mod forecast;
pub mod health;
pub mod history;
pub mod loadgen;
pub mod plan;
pub mod route;
pub mod schedule;
pub mod serve;
pub mod simulate;
pub mod staff;

use std::path::Path;

use anyhow::Context;
use switchboard_routing::plan::{CustomerStore, RoutingConfig};

/// Reads and validates a contact-center configuration and its customer CSV. Problems are
/// printed as `FILE:LINE: path: message`, one per line, and the error says how many.
pub fn load_config(path: &Path) -> anyhow::Result<(RoutingConfig, CustomerStore)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = match RoutingConfig::from_toml(&text) {
        Ok(config) => config,
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}:{}: {}: {}", path.display(), p.line, p.path, p.message);
            }
            anyhow::bail!("{}: {} problem(s)", path.display(), e.problems.len());
        }
    };
    let customers = match &config.customers_csv {
        Some(csv) => {
            let csv_path = path.parent().unwrap_or(Path::new(".")).join(csv);
            let text = std::fs::read_to_string(&csv_path).with_context(|| {
                format!("{}: customers.csv: cannot read {}", path.display(), csv_path.display())
            })?;
            CustomerStore::from_csv(&text).map_err(|e| {
                eprintln!("{}:{}: {}", csv_path.display(), e.line, e.message);
                anyhow::anyhow!("{}: 1 problem", csv_path.display())
            })?
        }
        None => CustomerStore::default(),
    };
    Ok((config, customers))
}
