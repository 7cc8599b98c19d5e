//! `switchboard route`: dry-run one call through the configured plans and print the decision
//! with its trace.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use switchboard_routing::plan::{Action, IncomingCall, Router};
use switchboard_routing::{NoObserver, Timestamp};

/// Arguments of `route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The configuration file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Dialed number (selects the entry point's plan).
    #[arg(long)]
    pub to: String,
    /// Caller number.
    #[arg(long)]
    pub from: String,
    /// Digits for successive prompts, comma separated; an empty entry is a timeout (`1,,3`).
    #[arg(long, value_delimiter = ',')]
    pub digits: Vec<String>,
    /// When the call arrives (RFC 3339); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// Customer id known to the switch.
    #[arg(long)]
    pub customer: Option<String>,
    /// Call attribute `key=value`; repeatable.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attrs: Vec<String>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the dry run. The configured agents are logged in and available.
pub fn run(args: RouteArgs) -> anyhow::Result<()> {
    let (config, customers) = super::load_config(&args.config)?;
    let at = match &args.at {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| {
                format!("--at: {text:?} is not an RFC 3339 time like 2026-12-01T10:00:00+01:00")
            })?
            .timestamp_millis(),
        None => chrono::Utc::now().timestamp_millis(),
    };
    let now = Timestamp::from_millis(
        u64::try_from(at).context("--at: times before 1970 are not supported")?,
    );
    let mut attributes = BTreeMap::new();
    for pair in &args.attrs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--attr: {pair:?} is not KEY=VALUE");
        };
        attributes.insert(key.trim().to_string(), value.trim().to_string());
    }
    let agents: Vec<_> = config.agents.iter().map(|a| a.id.clone()).collect();
    let router = Router::new(config, customers, Arc::new(NoObserver))?;
    for agent in &agents {
        router.engine().login(agent, true, now)?;
    }
    let call = IncomingCall {
        id: "dry-run".into(),
        caller: args.from.clone(),
        dialed: args.to.clone(),
        customer_id: args.customer.clone(),
        attributes,
    };
    let mut decision = router.start_call(call, now)?;
    let mut digits = args.digits.iter();
    while matches!(decision.action, Action::Collect { .. }) {
        let Some(input) = digits.next() else { break };
        let input = (!input.is_empty()).then_some(input.as_str());
        decision = router.submit_digits(&decision.call, input, now)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print!("{decision}");
    }
    Ok(())
}
