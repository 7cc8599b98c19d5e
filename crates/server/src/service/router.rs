//! `switchboard.v1.Router`: the API telephony switches call.

use std::time::Instant;

use switchboard_proto::v1 as pb;
use switchboard_routing::plan::{Action, Decision, IncomingCall};
use switchboard_routing::{CallId, CallStatus, OfferOutcome};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use super::ResponseStream;
use crate::auth::Role;
use crate::cdr::CallFact;
use crate::convert;
use crate::error::{ServiceError, ServiceResult};
use crate::hub;
use crate::pump::PumpMsg;
use crate::state::Switchboard;

/// The Router service.
#[derive(Clone)]
pub struct RouterService {
    board: Switchboard,
}

impl RouterService {
    /// Over `board`.
    pub fn new(board: Switchboard) -> RouterService {
        RouterService { board }
    }

    fn route_call(&self, r: pb::RouteCallRequest) -> ServiceResult<pb::RouteDecision> {
        convert::id("call_id", &r.call_id)?;
        convert::text("caller", &r.caller)?;
        convert::id("dialed", &r.dialed)?;
        convert::text("customer_id", &r.customer_id)?;
        convert::text("switch_id", &r.switch_id)?;
        let attributes = convert::attributes("attributes", &r.attributes)?;
        let call_id = CallId::from(r.call_id.as_str());
        let hub = self.board.hub();
        // A soft bound (concurrent routes may pass it by a few): the limit is about memory.
        let in_flight = hub.call_switch.len();
        if in_flight >= self.board.max_calls_in_flight() {
            return Err(ServiceError::ResourceExhausted(format!(
                "server is full: {in_flight} calls in flight (server.max_calls_in_flight)"
            )));
        }
        // Claim the id first: a duplicate must not disturb the call already using it.
        match hub.call_switch.entry(call_id.clone()) {
            dashmap::Entry::Occupied(_) => {
                return Err(ServiceError::AlreadyExists(format!("call {call_id} already exists")))
            }
            dashmap::Entry::Vacant(slot) => {
                slot.insert(r.switch_id.clone());
            }
        }
        let at = self.board.now();
        let customer_id = (!r.customer_id.is_empty()).then(|| r.customer_id.clone());
        self.board.to_pump(PumpMsg::Call(CallFact::Started {
            call: call_id.clone(),
            switch_id: r.switch_id.clone(),
            caller: r.caller.clone(),
            dialed: r.dialed.clone(),
            customer_id: customer_id.clone(),
            at,
        }));
        let incoming = IncomingCall {
            id: call_id.clone(),
            caller: r.caller,
            dialed: r.dialed,
            customer_id,
            attributes,
        };
        let router = self.board.router();
        match hub::returning_offers_of(&call_id, || router.start_call(incoming, at)) {
            Ok(Decision { action: Action::Refused { reason, .. }, .. }) => {
                // The queue is full and the plan has no overflow: refused like any full
                // resource, leaving no trace.
                self.board.forget_call(&call_id);
                self.board.to_pump(PumpMsg::Call(CallFact::Discarded(call_id)));
                Err(ServiceError::ResourceExhausted(reason))
            }
            Ok(decision) => {
                self.board.decided(&decision, at);
                Ok(convert::decision(&decision, |a| hub.endpoint(a), &r.switch_id))
            }
            Err(e) => {
                self.board.forget_call(&call_id);
                // Rejected: no call record either.
                self.board.to_pump(PumpMsg::Call(CallFact::Discarded(call_id)));
                Err(e.into())
            }
        }
    }

    fn submit_digits(&self, r: pb::SubmitDigitsRequest) -> ServiceResult<pb::RouteDecision> {
        convert::id("call_id", &r.call_id)?;
        if r.digits.len() > 64
            || !r.digits.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            return Err(ServiceError::invalid("digits", "must be up to 64 of 0-9, * and #"));
        }
        let call_id = CallId::from(r.call_id.as_str());
        let digits = (!r.digits.is_empty()).then_some(r.digits.as_str());
        let router = self.board.router();
        let at = self.board.now();
        let decision =
            hub::returning_offers_of(&call_id, || router.submit_digits(&call_id, digits, at))
                .map_err(|e| match e {
                    switchboard_routing::Error::CallStateMismatch { .. }
                        if !self.board.hub().call_switch.contains_key(&call_id) =>
                    {
                        ServiceError::NotFound(format!("unknown call {call_id}"))
                    }
                    other => other.into(),
                })?;
        let hub = self.board.hub();
        let switch_id = hub.switch_of(&call_id);
        // A full queue after the IVR is a decision, not an error: the caller is already on the
        // line, so the switch gets a hang-up with the reason to play, and the call is recorded
        // as hung up (RouteCall, by contrast, refuses a call before anything happened).
        self.board.decided(&decision, at);
        Ok(convert::decision(&decision, |a| hub.endpoint(a), &switch_id))
    }

    fn report(&self, r: pb::CallEventRequest) -> ServiceResult<()> {
        convert::id("call_id", &r.call_id)?;
        let kind = pb::CallEventKind::try_from(r.kind)
            .ok()
            .filter(|k| *k != pb::CallEventKind::Unspecified)
            .ok_or_else(|| {
                ServiceError::invalid("kind", format!("{} is not a call event kind", r.kind))
            })?;
        let call = CallId::from(r.call_id.as_str());
        let router = self.board.router();
        let engine = router.engine();
        let at = self.board.now();
        match kind {
            pb::CallEventKind::Unspecified => unreachable!("filtered above"),
            pb::CallEventKind::Answered => engine.call_answered(&call, at)?,
            pb::CallEventKind::Ended => {
                engine.call_ended(&call, at)?;
                self.board.forget_call(&call);
            }
            pb::CallEventKind::Abandoned => {
                let in_engine = engine.call_status(&call).is_some();
                router.hangup(&call, at).map_err(|e| self.unknown_if_absent(&call, e))?;
                if !in_engine {
                    self.board
                        .to_pump(PumpMsg::Call(CallFact::HungUpInIvr { call: call.clone(), at }));
                }
                self.board.forget_call(&call);
            }
            pb::CallEventKind::Transferred => {
                match engine.call_status(&call) {
                    Some(CallStatus::Connected { .. }) => {
                        // Marked before the end so the record closes as transferred; taken
                        // back if the end is refused (the call changed under us).
                        self.board.to_pump(PumpMsg::Call(CallFact::Transferred { call: call.clone(), at }));
                        if let Err(e) = engine.call_ended(&call, at) {
                            self.board.to_pump(PumpMsg::Call(CallFact::TransferCancelled(call.clone())));
                            return Err(e.into());
                        }
                    }
                    Some(CallStatus::Queued { .. }) => {
                        router.withdraw(&call, at)?;
                        self.board.to_pump(PumpMsg::Call(CallFact::Transferred { call: call.clone(), at }));
                    }
                    Some(CallStatus::Offered { agent, .. }) => {
                        return Err(ServiceError::FailedPrecondition(format!(
                            "call {call} is ringing agent {agent}; report OFFER_REJECTED or ANSWERED first"
                        )))
                    }
                    None => {
                        router.hangup(&call, at).map_err(|e| self.unknown_if_absent(&call, e))?;
                        self.board.to_pump(PumpMsg::Call(CallFact::Transferred { call: call.clone(), at }));
                    }
                }
                self.board.forget_call(&call);
            }
            pb::CallEventKind::OfferRejected => {
                engine.offer_failed(&call, OfferOutcome::Rejected, at)?
            }
            pb::CallEventKind::OfferNoAnswer => {
                engine.offer_failed(&call, OfferOutcome::TimedOut, at)?
            }
        }
        Ok(())
    }

    fn unknown_if_absent(&self, call: &CallId, e: switchboard_routing::Error) -> ServiceError {
        match e {
            switchboard_routing::Error::UnknownCall(_) => {
                ServiceError::NotFound(format!("unknown call {call}"))
            }
            other => other.into(),
        }
    }

    fn observe<T>(&self, rpc: &str, result: ServiceResult<T>) -> Result<Response<T>, Status> {
        let result = result.map(Response::new).map_err(Status::from);
        let code = result.as_ref().err().map_or(tonic::Code::Ok, Status::code);
        self.board.metrics().rpc(rpc, code);
        result
    }
}

#[tonic::async_trait]
impl pb::router_server::Router for RouterService {
    async fn route_call(
        &self,
        request: Request<pb::RouteCallRequest>,
    ) -> Result<Response<pb::RouteDecision>, Status> {
        let started = Instant::now();
        let result = self
            .board
            .auth()
            .require(request.metadata(), &[Role::Switch])
            .and_then(|()| self.route_call(request.into_inner()));
        self.board.metrics().route_seconds.observe(started.elapsed().as_secs_f64());
        self.observe("RouteCall", result)
    }

    async fn submit_digits(
        &self,
        request: Request<pb::SubmitDigitsRequest>,
    ) -> Result<Response<pb::RouteDecision>, Status> {
        let started = Instant::now();
        let result = self
            .board
            .auth()
            .require(request.metadata(), &[Role::Switch])
            .and_then(|()| self.submit_digits(request.into_inner()));
        self.board.metrics().route_seconds.observe(started.elapsed().as_secs_f64());
        self.observe("SubmitDigits", result)
    }

    async fn report_call_event(
        &self,
        request: Request<pb::CallEventRequest>,
    ) -> Result<Response<pb::CallEventResponse>, Status> {
        let result = self
            .board
            .auth()
            .require(request.metadata(), &[Role::Switch])
            .and_then(|()| self.report(request.into_inner()))
            .map(|()| pb::CallEventResponse {});
        self.observe("ReportCallEvent", result)
    }

    type WatchAssignmentsStream = ResponseStream<pb::RouteDecision>;

    async fn watch_assignments(
        &self,
        request: Request<pb::WatchAssignmentsRequest>,
    ) -> Result<Response<Self::WatchAssignmentsStream>, Status> {
        self.board.auth().require(request.metadata(), &[Role::Switch])?;
        let permit = self.board.stream_permit(&request, "assignments")?;
        let switch_id = request.into_inner().switch_id;
        convert::text("switch_id", &switch_id).map_err(Status::from)?;
        let rx = self.board.hub().assignments.subscribe();
        let metrics = self.board.metrics().clone();
        let stream = BroadcastStream::new(rx)
            .filter_map(move |item| match item {
                Ok(d) if switch_id.is_empty() || d.switch_id == switch_id => Some(Ok((*d).clone())),
                Ok(_) => None,
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    metrics.overload.lagged("assignments");
                    Some(Err(Status::resource_exhausted(format!(
                        "assignment watcher fell behind and missed {n} decisions (server.limits.assignment_buffer); reconnect (missed offers time out and are re-offered)"
                    ))))
                }
            })
            // A lagging watcher gets one error and the stream ends, so it reconnects.
            .take_while_inclusive_ok();
        let stream = futures_util::StreamExt::take_until(stream, self.board.closing());
        Ok(Response::new(crate::limits::hold(Box::pin(stream), permit)))
    }
}

/// Ends a stream after its first error item (inclusive).
trait TakeWhileInclusiveOk: Sized {
    fn take_while_inclusive_ok(self) -> ResponseStream<pb::RouteDecision>;
}

impl<S> TakeWhileInclusiveOk for S
where
    S: tokio_stream::Stream<Item = Result<pb::RouteDecision, Status>> + Send + 'static,
{
    fn take_while_inclusive_ok(self) -> ResponseStream<pb::RouteDecision> {
        let mut failed = false;
        Box::pin(self.map_while(move |item| {
            if failed {
                return None;
            }
            failed = item.is_err();
            Some(item)
        }))
    }
}
