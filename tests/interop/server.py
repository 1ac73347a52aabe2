"""A grpcio server speaking the NodeAgent contract, for testing NodeAgent's own gRPC client.

NodeAgent implements gRPC over HTTP/2 itself; this script is an independent peer built on grpcio
that the C# interop tests call. It serves a scripted subset of AgentService and HostService whose
special host ids exercise metadata, cancellation, message-size limits, error details and streams.

Usage:
    /usr/bin/python3 tests/interop/server.py [--port 0] [--proto-root DIR]

It listens on 127.0.0.1 (port 0: any free port), prints one line "LISTENING <port>" once it
accepts calls, and serves until its standard input is closed or it receives SIGTERM or SIGINT.

Behaviour by method and request:
    AgentService/RegisterHost      stores the host; heartbeat_interval 5 s, heartbeat_ttl 15 s.
    AgentService/Heartbeat         NOT_FOUND for an unregistered host, else desired_version 7.
    HostService/ListHosts          every registered host, health UP.
    HostService/GetHost            a registered host id: that host, health UP;
                                   "whoami": labels hold the call's request metadata;
                                   "slow": answers after 30 s unless the call ends first
                                       (an ended call counts in cancelled_calls);
                                   "huge": labels hold about 5 MiB;
                                   "stats": labels cancelled_calls and cancelled_streams;
                                   "bad-percent": FAILED_PRECONDITION with a non-ASCII message;
                                   anything else: NOT_FOUND.
    AgentService/WatchDesiredWorkspaces
                                   "three": versions 1, 2 and 3 holding 1, 2 and 3 workspaces, then OK;
                                   "forever": version 1, then stays open for up to 60 s; a call
                                       ended by the client counts in cancelled_streams;
                                   "fail-after-one": one message, then UNAVAILABLE;
                                   anything else: NOT_FOUND.
"""

import argparse
import base64
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc
from google.protobuf import duration_pb2

sys.dont_write_bytecode = True
import contract  # noqa: E402

POLL_INTERVAL = 0.010
SLOW_CALL_SECONDS = 30.0
FOREVER_STREAM_SECONDS = 60.0
HUGE_LABEL_COUNT = 80
HUGE_LABEL_SIZE = 64 * contract.KIB
BAD_PERCENT_MESSAGE = "100% füll: disk /var/lib/nodeagent is full; free space"


def wait_while_active(context: grpc.ServicerContext, seconds: float) -> bool:
    """Waits up to `seconds` while the call is active; returns False if the call ended meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not context.is_active():
            return False
        time.sleep(POLL_INTERVAL)
    return context.is_active()


def metadata_as_labels(metadata) -> dict[str, str]:
    """Request metadata as string pairs: binary (-bin) values in base64, repeated keys joined by commas."""
    labels: dict[str, str] = {}
    for key, value in metadata:
        text = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        labels[key] = f"{labels[key]},{text}" if key in labels else text
    return labels


class Scheduler:
    """The scripted scheduler: registered hosts and the counts of calls the client ended early."""

    def __init__(self, pb):
        self.pb = pb
        self.lock = threading.Lock()
        self.hosts: dict[str, object] = {}
        self.cancelled_calls = 0
        self.cancelled_streams = 0

    def register_host(self, request, context):
        with self.lock:
            self.hosts[request.host.host_id] = request.host
        return self.pb.agent_pb2.RegisterHostResponse(
            heartbeat_interval=duration_pb2.Duration(seconds=5),
            heartbeat_ttl=duration_pb2.Duration(seconds=15),
        )

    def heartbeat(self, request, context):
        with self.lock:
            registered = request.host_id in self.hosts
        if not registered:
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"host {request.host_id} is not registered; register it first"
            )
        return self.pb.agent_pb2.HeartbeatResponse(desired_version=7)

    def list_hosts(self, request, context):
        with self.lock:
            infos = list(self.hosts.values())
        return self.pb.host_pb2.ListHostsResponse(hosts=[self._up(info) for info in infos])

    def get_host(self, request, context):
        agent_pb2, host_pb2 = self.pb.agent_pb2, self.pb.host_pb2
        host_id = request.host_id
        with self.lock:
            info = self.hosts.get(host_id)
        if info is not None:
            return self._up(info)

        if host_id == "whoami":
            labels = metadata_as_labels(context.invocation_metadata())
            return host_pb2.Host(info=agent_pb2.HostInfo(host_id="whoami", labels=labels))

        if host_id == "slow":
            if not wait_while_active(context, SLOW_CALL_SECONDS):
                with self.lock:
                    self.cancelled_calls += 1
            return host_pb2.Host()

        if host_id == "huge":
            labels = {f"label-{i:02d}": "x" * HUGE_LABEL_SIZE for i in range(HUGE_LABEL_COUNT)}
            return host_pb2.Host(info=agent_pb2.HostInfo(host_id="huge", labels=labels))

        if host_id == "stats":
            with self.lock:
                labels = {
                    "cancelled_calls": str(self.cancelled_calls),
                    "cancelled_streams": str(self.cancelled_streams),
                }
            return host_pb2.Host(info=agent_pb2.HostInfo(host_id="stats", labels=labels))

        if host_id == "bad-percent":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, BAD_PERCENT_MESSAGE)

        context.abort(grpc.StatusCode.NOT_FOUND, f"host {host_id} is not registered")

    def watch_desired_workspaces(self, request, context):
        agent_pb2 = self.pb.agent_pb2
        host_id = request.host_id

        if host_id == "three":
            for version in (1, 2, 3):
                yield agent_pb2.DesiredWorkspaces(
                    host_id=host_id,
                    version=version,
                    workspaces=[self._workspace(i) for i in range(1, version + 1)],
                )
            return

        if host_id == "forever":
            ended_early = True
            try:
                yield agent_pb2.DesiredWorkspaces(host_id=host_id, version=1)
                ended_early = not wait_while_active(context, FOREVER_STREAM_SECONDS)
            finally:
                # When the client leaves while the first message is being sent, grpcio sees the cancellation as that
                # send ends and closes this generator at the yield, never asking for the next message: that is the
                # client's cancellation too, and counts.
                if ended_early:
                    with self.lock:
                        self.cancelled_streams += 1
            return

        if host_id == "fail-after-one":
            yield agent_pb2.DesiredWorkspaces(host_id=host_id, version=1)
            context.abort(grpc.StatusCode.UNAVAILABLE, "scheduler is shutting down; reconnect")

        context.abort(grpc.StatusCode.NOT_FOUND, f"host {host_id} is not registered")

    def _up(self, info):
        return self.pb.host_pb2.Host(info=info, health=self.pb.host_pb2.HOST_HEALTH_UP)

    def _workspace(self, i: int):
        agent_pb2, common_pb2 = self.pb.agent_pb2, self.pb.common_pb2
        return agent_pb2.WorkspaceSpec(
            id=f"ws-{i}",
            owner="alice",
            image=common_pb2.ImageRef(name="debian-12"),
            resources=common_pb2.Resources(vcpus=1, memory_bytes=512 * contract.MIB),
        )

    def handlers(self):
        agent_pb2, host_pb2 = self.pb.agent_pb2, self.pb.host_pb2
        agent = grpc.method_handlers_generic_handler(
            contract.AGENT_SERVICE,
            {
                "RegisterHost": grpc.unary_unary_rpc_method_handler(
                    self.register_host,
                    request_deserializer=agent_pb2.RegisterHostRequest.FromString,
                    response_serializer=agent_pb2.RegisterHostResponse.SerializeToString,
                ),
                "Heartbeat": grpc.unary_unary_rpc_method_handler(
                    self.heartbeat,
                    request_deserializer=agent_pb2.HeartbeatRequest.FromString,
                    response_serializer=agent_pb2.HeartbeatResponse.SerializeToString,
                ),
                "WatchDesiredWorkspaces": grpc.unary_stream_rpc_method_handler(
                    self.watch_desired_workspaces,
                    request_deserializer=agent_pb2.WatchDesiredWorkspacesRequest.FromString,
                    response_serializer=agent_pb2.DesiredWorkspaces.SerializeToString,
                ),
            },
        )
        host = grpc.method_handlers_generic_handler(
            contract.HOST_SERVICE,
            {
                "ListHosts": grpc.unary_unary_rpc_method_handler(
                    self.list_hosts,
                    request_deserializer=host_pb2.ListHostsRequest.FromString,
                    response_serializer=host_pb2.ListHostsResponse.SerializeToString,
                ),
                "GetHost": grpc.unary_unary_rpc_method_handler(
                    self.get_host,
                    request_deserializer=host_pb2.GetHostRequest.FromString,
                    response_serializer=host_pb2.Host.SerializeToString,
                ),
            },
        )
        return (agent, host)


def raise_system_exit(signum, frame):
    raise SystemExit(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    contract.add_proto_root_argument(parser)
    args = parser.parse_args()

    pb = contract.load(args.proto_root)
    scheduler = Scheduler(pb)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        handlers=scheduler.handlers(),
        options=[("grpc.so_reuseport", 0)],
    )
    try:
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    except RuntimeError as error:
        print(f"cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, raise_system_exit)
    signal.signal(signal.SIGINT, raise_system_exit)
    try:
        server.start()
        print(f"LISTENING {port}", flush=True)
        while os.read(sys.stdin.fileno(), 4096):
            pass
    finally:
        server.stop(0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
