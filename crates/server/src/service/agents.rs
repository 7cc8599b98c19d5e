//! `switchboard.v1.Agents`: profiles, log in and out, ready and not ready, and live views.

use switchboard_proto::v1 as pb;
use switchboard_routing::AgentId;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use super::ResponseStream;
use crate::auth::Role;
use crate::convert;
use crate::error::{ServiceError, ServiceResult};
use crate::pump::PumpMsg;
use crate::state::Switchboard;

/// The Agents service.
#[derive(Clone)]
pub struct AgentsService {
    board: Switchboard,
}

/// Who may read agents.
const READERS: &[Role] = &[Role::Switch, Role::Supervisor];
/// Who may change agent state (the switch relays the agent's desktop or phone).
const STATE_CHANGERS: &[Role] = &[Role::Switch];
/// Who may create, change and delete agents.
const EDITORS: &[Role] = &[Role::Admin];

impl AgentsService {
    /// Over `board`.
    pub fn new(board: Switchboard) -> AgentsService {
        AgentsService { board }
    }

    fn view(&self, agent: &AgentId) -> ServiceResult<pb::Agent> {
        self.board
            .router()
            .engine()
            .agent(agent)
            .map(|a| convert::agent(&a))
            .ok_or_else(|| ServiceError::NotFound(format!("unknown agent {agent}")))
    }

    fn agent_id(&self, id: &str) -> ServiceResult<AgentId> {
        convert::id("agent_id", id)?;
        Ok(AgentId::from(id))
    }

    fn finish<T>(&self, rpc: &str, result: ServiceResult<T>) -> Result<Response<T>, Status> {
        let result = result.map(Response::new).map_err(Status::from);
        self.board.metrics().rpc(rpc, result.as_ref().err().map_or(tonic::Code::Ok, Status::code));
        result
    }

    fn guarded<Req, T>(
        &self,
        rpc: &str,
        request: Request<Req>,
        roles: &[Role],
        f: impl FnOnce(Req) -> ServiceResult<T>,
    ) -> Result<Response<T>, Status> {
        let result = self
            .board
            .auth()
            .require(request.metadata(), roles)
            .and_then(|()| f(request.into_inner()));
        self.finish(rpc, result)
    }
}

#[tonic::async_trait]
impl pb::agents_server::Agents for AgentsService {
    async fn upsert_agent(
        &self,
        request: Request<pb::UpsertAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("UpsertAgent", request, EDITORS, |r| {
            let profile = r.agent.ok_or_else(|| ServiceError::invalid("agent", "is required"))?;
            let profile = convert::profile(&profile)?;
            let id = profile.id.clone();
            let endpoint = convert::endpoint(&profile);
            let journaled = profile.clone();
            self.board.router().engine().upsert_agent(profile, self.board.now())?;
            self.board.journal(crate::journal::Record::AgentUpserted(journaled));
            self.board.hub().endpoints.insert(id.clone(), endpoint);
            self.view(&id)
        })
    }

    async fn delete_agent(
        &self,
        request: Request<pb::AgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("DeleteAgent", request, EDITORS, |r| {
            let id = self.agent_id(&r.agent_id)?;
            let last = self.view(&id)?;
            self.board.router().engine().remove_agent(&id)?;
            self.board.journal(crate::journal::Record::AgentRemoved(id.clone()));
            self.board.hub().endpoints.remove(&id);
            self.board.to_pump(PumpMsg::AgentRemoved(id));
            Ok(last)
        })
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("Login", request, STATE_CHANGERS, |r| {
            let id = self.agent_id(&r.agent_id)?;
            self.board.router().engine().login(&id, r.ready, self.board.now())?;
            self.view(&id)
        })
    }

    async fn logout(
        &self,
        request: Request<pb::AgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("Logout", request, STATE_CHANGERS, |r| {
            let id = self.agent_id(&r.agent_id)?;
            self.board.router().engine().logout(&id, self.board.now())?;
            self.view(&id)
        })
    }

    async fn set_ready(
        &self,
        request: Request<pb::AgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("SetReady", request, STATE_CHANGERS, |r| {
            let id = self.agent_id(&r.agent_id)?;
            self.board.router().engine().set_ready(&id, self.board.now())?;
            self.view(&id)
        })
    }

    async fn set_not_ready(
        &self,
        request: Request<pb::SetNotReadyRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("SetNotReady", request, STATE_CHANGERS, |r| {
            let id = self.agent_id(&r.agent_id)?;
            self.board.router().engine().set_not_ready(&id, &r.reason, self.board.now())?;
            self.view(&id)
        })
    }

    async fn get_agent(
        &self,
        request: Request<pb::AgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.guarded("GetAgent", request, READERS, |r| {
            let id = self.agent_id(&r.agent_id)?;
            self.view(&id)
        })
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        self.guarded("ListAgents", request, READERS, |r| list_agents(&self.board, &r))
    }

    type WatchAgentStream = ResponseStream<pb::AgentUpdate>;

    async fn watch_agent(
        &self,
        request: Request<pb::AgentRequest>,
    ) -> Result<Response<Self::WatchAgentStream>, Status> {
        self.board.auth().require(request.metadata(), READERS)?;
        let permit = self.board.stream_permit(&request, "agent")?;
        let id = self.agent_id(&request.into_inner().agent_id)?;
        let metrics = self.board.metrics().clone();
        // Subscribe before reading the current state so no change falls in between.
        let rx = self.board.agent_updates();
        let first = self.view(&id)?;
        let wanted = id.to_string();
        let updates = BroadcastStream::new(rx).filter_map(move |item| match item {
            Ok(agent) if agent.profile.as_ref().is_some_and(|p| p.id == wanted) => {
                Some(Ok(pb::AgentUpdate { agent: Some((*agent).clone()) }))
            }
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                metrics.overload.lagged("agent");
                Some(Err(Status::resource_exhausted(format!(
                    "agent watcher fell behind and missed {n} updates (server.limits.agent_update_buffer); reconnect"
                ))))
            }
        });
        let mut failed = false;
        let stream = tokio_stream::once(Ok(pb::AgentUpdate { agent: Some(first) }))
            .chain(updates)
            .map_while(move |item: Result<pb::AgentUpdate, Status>| {
                if failed {
                    return None;
                }
                failed = item.is_err();
                Some(item)
            });
        let stream = futures_util::StreamExt::take_until(stream, self.board.closing());
        Ok(Response::new(crate::limits::hold(Box::pin(stream), permit)))
    }
}

/// Agents filtered by team and queue, sorted by id.
pub fn list_agents(
    board: &Switchboard,
    r: &pb::ListAgentsRequest,
) -> ServiceResult<pb::ListAgentsResponse> {
    convert::text("team", &r.team)?;
    convert::text("queue", &r.queue)?;
    if !r.queue.is_empty()
        && board.router().engine().queue_totals(&r.queue.as_str().into()).is_err()
    {
        return Err(ServiceError::NotFound(format!("unknown queue {}", r.queue)));
    }
    let agents = board
        .all_agents()
        .into_iter()
        .filter(|a| r.team.is_empty() || a.profile.as_ref().is_some_and(|p| p.team == r.team))
        .filter(|a| r.queue.is_empty() || a.queues.contains(&r.queue))
        .collect();
    Ok(pb::ListAgentsResponse { agents })
}
