//! `switchboard health`: asks a server's gRPC health service whether it is serving; the
//! container health check (the image has no shell and no other gRPC client).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// `health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// gRPC address of the server.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,
    /// Service to ask about; empty for the server as a whole.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3.0)]
    pub timeout_s: f64,
}

/// Exits 0 when the server answers SERVING, 1 otherwise (with the reason on stderr).
pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0 && args.timeout_s <= 60.0) {
        anyhow::bail!("--timeout-s: must be more than 0 and at most 60");
    }
    let timeout = Duration::from_secs_f64(args.timeout_s);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let check = async {
            let channel = tonic::transport::Channel::from_shared(format!("http://{}", args.addr))?
                .connect()
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", args.addr))?;
            let response = HealthClient::new(channel)
                .check(HealthCheckRequest { service: args.service.clone() })
                .await
                .map_err(|e| anyhow::anyhow!("health check of {:?}: {e}", args.service))?
                .into_inner();
            match ServingStatus::try_from(response.status) {
                Ok(ServingStatus::Serving) => {
                    println!("serving");
                    Ok(())
                }
                Ok(status) => anyhow::bail!("{:?} is {}", args.service, status.as_str_name()),
                Err(_) => anyhow::bail!("{:?}: unknown status {}", args.service, response.status),
            }
        };
        tokio::time::timeout(timeout, check).await.map_err(|_| {
            anyhow::anyhow!("no answer from {} within {} s", args.addr, args.timeout_s)
        })?
    })
}
