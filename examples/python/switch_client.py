"""A minimal telephony-switch integration for Switchboard, in Python with grpcio.

It logs an agent in, routes a call, follows the IVR, answers and ends the call, and shows the
queue statistics. Run `switchboard serve` first, then `./generate.sh` and this script.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "gen"))

import grpc  # noqa: E402

from switchboard.v1 import agents_pb2, agents_pb2_grpc  # noqa: E402
from switchboard.v1 import router_pb2, router_pb2_grpc  # noqa: E402
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addr", default="127.0.0.1:50051")
    parser.add_argument("--token", help="bearer token when the server has tokens configured")
    parser.add_argument("--dialed", default="+18005550100")
    parser.add_argument("--caller", default="+14155550123")
    parser.add_argument("--digits", default="1,1234567", help="answers to the IVR prompts")
    args = parser.parse_args()

    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    channel = grpc.insecure_channel(args.addr)
    agents = agents_pb2_grpc.AgentsStub(channel)
    router = router_pb2_grpc.RouterStub(channel)
    supervisor = supervisor_pb2_grpc.SupervisorStub(channel)

    for agent in agents.ListAgents(agents_pb2.ListAgentsRequest(), metadata=metadata).agents:
        try:
            agents.Login(agents_pb2.LoginRequest(agent_id=agent.profile.id, ready=True), metadata=metadata)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.FAILED_PRECONDITION:  # already logged in
                raise

    call_id = "py-demo-1"
    decision = router.RouteCall(
        router_pb2.RouteCallRequest(call_id=call_id, caller=args.caller, dialed=args.dialed, switch_id="python"),
        metadata=metadata,
    )
    digits = [d for d in args.digits.split(",")]
    while decision.WhichOneof("action") == "collect":
        prompt = decision.collect.prompt
        pressed = digits.pop(0) if digits else ""
        print(f"play {prompt}, caller presses {pressed or '(nothing)'}")
        decision = router.SubmitDigits(router_pb2.SubmitDigitsRequest(call_id=call_id, digits=pressed), metadata=metadata)
    for step in decision.trace:
        print(f"  {step.node} ({step.kind}): {step.note}")

    action = decision.WhichOneof("action")
    if action == "connect":
        print(f"ring {decision.connect.endpoint} (agent {decision.connect.agent_id}, queue {decision.connect.queue})")
        report = lambda kind: router.ReportCallEvent(router_pb2.CallEventRequest(call_id=call_id, kind=kind), metadata=metadata)
        report(router_pb2.CALL_EVENT_KIND_ANSWERED)
        report(router_pb2.CALL_EVENT_KIND_ENDED)
        print("answered and ended")
    elif action == "queued":
        print(f"queued in {decision.queued.queue} at position {decision.queued.position}; "
              "a real switch now waits on WatchAssignments")
        router.ReportCallEvent(router_pb2.CallEventRequest(call_id=call_id, kind=router_pb2.CALL_EVENT_KIND_ABANDONED), metadata=metadata)
    else:
        print(f"decision: {action}: {getattr(decision, action)}")

    for q in supervisor.ListQueueStats(supervisor_pb2.ListQueueStatsRequest(), metadata=metadata).queues:
        print(f"{q.queue}: waiting {q.calls_waiting}, available {q.agents_available}, "
              f"answered today {q.today.answered}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
