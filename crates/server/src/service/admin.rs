//! `switchboard.v1.Admin`: validate, reload and read the configuration.

use switchboard_proto::v1 as pb;
use switchboard_routing::plan::RoutingConfig;
use tonic::{Request, Response, Status};

use crate::auth::Role;
use crate::error::{ServiceError, ServiceResult};
use crate::state::Switchboard;

/// Largest configuration text accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 4 << 20;

/// The Admin service.
#[derive(Clone)]
pub struct AdminService {
    board: Switchboard,
}

impl AdminService {
    /// Over `board`.
    pub fn new(board: Switchboard) -> AdminService {
        AdminService { board }
    }

    fn guarded<Req, T>(
        &self,
        rpc: &str,
        request: Request<Req>,
        f: impl FnOnce(Req) -> ServiceResult<T>,
    ) -> Result<Response<T>, Status> {
        let result = self
            .board
            .auth()
            .require(request.metadata(), &[Role::Admin])
            .and_then(|()| f(request.into_inner()))
            .map(Response::new)
            .map_err(Status::from);
        self.board.metrics().rpc(rpc, result.as_ref().err().map_or(tonic::Code::Ok, Status::code));
        result
    }
}

fn check_size(text: &str) -> ServiceResult<()> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ServiceError::invalid("toml", format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    Ok(())
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminService {
    async fn validate_config(
        &self,
        request: Request<pb::ConfigText>,
    ) -> Result<Response<pb::ValidateConfigResponse>, Status> {
        self.guarded("ValidateConfig", request, |r| {
            check_size(&r.toml)?;
            Ok(match RoutingConfig::from_toml(&r.toml) {
                Ok(_) => pb::ValidateConfigResponse { valid: true, problems: Vec::new() },
                Err(e) => pb::ValidateConfigResponse {
                    valid: false,
                    problems: e
                        .problems
                        .into_iter()
                        .map(|p| pb::ConfigProblem {
                            line: p.line as u32,
                            path: p.path,
                            message: p.message,
                        })
                        .collect(),
                },
            })
        })
    }

    async fn reload_config(
        &self,
        request: Request<pb::ConfigText>,
    ) -> Result<Response<pb::ReloadConfigResponse>, Status> {
        self.guarded("ReloadConfig", request, |r| {
            check_size(&r.toml)?;
            let text = (!r.toml.is_empty()).then_some(r.toml);
            let loaded = self.board.reload(text)?;
            Ok(pb::ReloadConfigResponse {
                generation: self.board.generation(),
                queues: loaded.routing.queues.len() as u32,
                plans: loaded.routing.plans.len() as u32,
                agents: loaded.routing.agents.len() as u32,
            })
        })
    }

    async fn get_config(
        &self,
        request: Request<pb::GetConfigRequest>,
    ) -> Result<Response<pb::ConfigText>, Status> {
        self.guarded("GetConfig", request, |_| {
            Ok(pb::ConfigText { toml: self.board.config().text })
        })
    }
}
