//! `switchboard.v1.Supervisor`: read-only live statistics.

use switchboard_proto::v1 as pb;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use super::ResponseStream;
use crate::auth::Role;
use crate::convert;
use crate::error::ServiceResult;
use crate::state::Switchboard;

const READERS: &[Role] = &[Role::Supervisor];

/// The Supervisor service.
#[derive(Clone)]
pub struct SupervisorService {
    board: Switchboard,
}

impl SupervisorService {
    /// Over `board`.
    pub fn new(board: Switchboard) -> SupervisorService {
        SupervisorService { board }
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
            .require(request.metadata(), READERS)
            .and_then(|()| f(request.into_inner()))
            .map(Response::new)
            .map_err(Status::from);
        self.board.metrics().rpc(rpc, result.as_ref().err().map_or(tonic::Code::Ok, Status::code));
        result
    }
}

#[tonic::async_trait]
impl pb::supervisor_server::Supervisor for SupervisorService {
    async fn get_queue_stats(
        &self,
        request: Request<pb::QueueStatsRequest>,
    ) -> Result<Response<pb::QueueStats>, Status> {
        self.guarded("GetQueueStats", request, |r| {
            convert::id("queue", &r.queue)?;
            self.board.queue_stats(&r.queue)
        })
    }

    async fn list_queue_stats(
        &self,
        request: Request<pb::ListQueueStatsRequest>,
    ) -> Result<Response<pb::ListQueueStatsResponse>, Status> {
        self.guarded("ListQueueStats", request, |_| {
            Ok(pb::ListQueueStatsResponse { queues: self.board.all_queue_stats() })
        })
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        self.guarded("Supervisor.ListAgents", request, |r| {
            super::agents::list_agents(&self.board, &r)
        })
    }

    type WatchStatsStream = ResponseStream<pb::StatsSnapshot>;

    async fn watch_stats(
        &self,
        request: Request<pb::WatchStatsRequest>,
    ) -> Result<Response<Self::WatchStatsStream>, Status> {
        self.board.auth().require(request.metadata(), READERS)?;
        let permit = self.board.stream_permit(&request, "stats")?;
        let include_agents = request.into_inner().include_agents;
        // A watch channel holds only the latest snapshot: a slow reader skips stale ones and
        // can never hold memory or the stats task back.
        let stream = WatchStream::new(self.board.snapshots()).map(move |snapshot| {
            // Copy the agents only when asked: cloning 48,000 of them per watcher per
            // snapshot just to drop them was most of the server's memory traffic.
            Ok(pb::StatsSnapshot {
                at_unix_ms: snapshot.at_unix_ms,
                queues: snapshot.queues.clone(),
                agents: if include_agents { snapshot.agents.clone() } else { Vec::new() },
            })
        });
        let stream = futures_util::StreamExt::take_until(stream, self.board.closing());
        Ok(Response::new(crate::limits::hold(Box::pin(stream), permit)))
    }
}
