"""A grpcio client that checks NodeAgent's scheduler against the NodeAgent contract.

NodeAgent implements gRPC over HTTP/2 itself; this script is an independent peer built on grpcio
that calls a running scheduler and checks unary calls, error statuses, server streaming,
deadlines, message-size limits, unknown methods and concurrent calls with metadata.

Usage:
    /usr/bin/python3 tests/interop/client.py --target 127.0.0.1:PORT [--proto-root DIR]

It prints one JSON object per check on its own line,
    {"check": "<name>", "ok": true|false, "detail": "<what was observed>"}
and exits 0 if every check passed, 1 otherwise. The checks run in order and share the
scheduler's state: the first registers the host py-host-1 that later checks look for.
"""

import argparse
import hashlib
import json
import sys
import time

import grpc
from google.protobuf import duration_pb2

sys.dont_write_bytecode = True
import contract  # noqa: E402

CALL_TIMEOUT = 5.0
SHORT_DEADLINE = 0.5
HOST_ID = "py-host-1"
MISSING_HOST_ID = "no-such-host"
HUGE_HOST_ID = "py-huge"
PEER_IMAGE = "py-peer-image"
HUGE_LABEL_COUNT = 80
HUGE_LABEL_SIZE = 64 * contract.KIB
CONCURRENT_CALLS = 50


def describe_error(error: grpc.RpcError) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    return f"status {code.name if code else 'unknown'}: {details!r}"


class Checks:
    """The checks, in the order they run; each returns (ok, detail)."""

    def __init__(self, channel: grpc.Channel, pb):
        self.pb = pb
        agent_pb2, host_pb2 = pb.agent_pb2, pb.host_pb2
        self.register_host = self._unary(
            channel, contract.AGENT_SERVICE, "RegisterHost",
            agent_pb2.RegisterHostRequest, agent_pb2.RegisterHostResponse,
        )
        self.heartbeat = self._unary(
            channel, contract.AGENT_SERVICE, "Heartbeat",
            agent_pb2.HeartbeatRequest, agent_pb2.HeartbeatResponse,
        )
        self.watch_desired_workspaces = channel.unary_stream(
            contract.method_path(contract.AGENT_SERVICE, "WatchDesiredWorkspaces"),
            request_serializer=agent_pb2.WatchDesiredWorkspacesRequest.SerializeToString,
            response_deserializer=agent_pb2.DesiredWorkspaces.FromString,
        )
        self.list_hosts = self._unary(
            channel, contract.HOST_SERVICE, "ListHosts",
            host_pb2.ListHostsRequest, host_pb2.ListHostsResponse,
        )
        self.get_host = self._unary(
            channel, contract.HOST_SERVICE, "GetHost",
            host_pb2.GetHostRequest, host_pb2.Host,
        )
        lease_pb2 = pb.lease_pb2
        self.create_leases = self._unary(
            channel, contract.LEASE_SERVICE, "CreateLeases",
            lease_pb2.CreateLeasesRequest, lease_pb2.CreateLeasesResponse,
        )
        self.add_image = self._unary(
            channel, contract.IMAGE_SERVICE, "AddImage",
            pb.image_pb2.AddImageRequest, pb.image_pb2.Image,
        )
        self.list_leases = self._unary(
            channel, contract.LEASE_SERVICE, "ListLeases",
            lease_pb2.ListLeasesRequest, lease_pb2.ListLeasesResponse,
        )
        self.no_such_method = channel.unary_unary(
            contract.method_path(contract.HOST_SERVICE, "NoSuchMethod"),
            request_serializer=lambda _: b"",
            response_deserializer=lambda data: data,
        )

    @staticmethod
    def _unary(channel, service, method, request_type, response_type):
        return channel.unary_unary(
            contract.method_path(service, method),
            request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString,
        )

    def _capacity(self):
        return self.pb.common_pb2.Resources(
            vcpus=8, memory_bytes=16 * contract.GIB, disk_bytes=100 * contract.GIB
        )

    def _host_info(self, host_id: str, labels: dict[str, str]):
        return self.pb.agent_pb2.HostInfo(
            host_id=host_id,
            hostname="py-peer",
            agent_version="interop",
            architecture="x86_64",
            domain_type="qemu",
            capacity=self._capacity(),
            labels=labels,
            features=["ssd"],
        )

    def _list_host_ids(self) -> list[str]:
        response = self.list_hosts(self.pb.host_pb2.ListHostsRequest(), timeout=CALL_TIMEOUT)
        return [host.info.host_id for host in response.hosts]

    def unary_register(self):
        request = self.pb.agent_pb2.RegisterHostRequest(host=self._host_info(HOST_ID, {"rack": "r1"}))
        response = self.register_host(request, timeout=CALL_TIMEOUT)
        interval = response.heartbeat_interval.ToTimedelta().total_seconds()
        ttl = response.heartbeat_ttl.ToTimedelta().total_seconds()
        return interval > 0 and ttl > 0, f"heartbeat_interval={interval}s heartbeat_ttl={ttl}s"

    def unary_heartbeat(self):
        request = self.pb.agent_pb2.HeartbeatRequest(
            host_id=HOST_ID,
            capacity=self._capacity(),
            load=self.pb.common_pb2.HostLoad(
                cpu_utilization=0.25,
                memory_available_bytes=8 * contract.GIB,
                load_average_1m=0.5,
                running_workspaces=0,
            ),
        )
        response = self.heartbeat(request, timeout=CALL_TIMEOUT)
        return True, f"desired_version={response.desired_version}"

    def lease_group(self):
        # An image of its own in the catalogue (nothing downloads it: the group's hosts are this client's), so the
        # check needs nothing of the scheduler it is pointed at but an open API.
        self.add_image(
            self.pb.image_pb2.AddImageRequest(
                name=PEER_IMAGE, url="https://images.example/py-peer.qcow2", sha256=hashlib.sha256(b"py-peer").hexdigest()
            ),
            timeout=CALL_TIMEOUT,
        )
        lease_pb2 = self.pb.lease_pb2
        request = lease_pb2.CreateLeasesRequest(
            count=2,
            lease=lease_pb2.CreateLeaseRequest(
                image=PEER_IMAGE,
                resources=self.pb.common_pb2.Resources(vcpus=1, memory_bytes=512 * 1024 * 1024),
                duration=duration_pb2.Duration(seconds=3600),
            ),
        )
        response = self.create_leases(request, timeout=CALL_TIMEOUT)
        listed = self.list_leases(lease_pb2.ListLeasesRequest(group=response.group), timeout=CALL_TIMEOUT)
        placed = [
            lease for lease in response.leases
            if lease.group == response.group and lease.host_id == HOST_ID and lease.state == lease_pb2.LEASE_STATE_STARTING
        ]
        ok = len(placed) == 2 and sorted(l.id for l in listed.leases) == sorted(l.id for l in placed)
        return ok, (
            f"group={response.group!r} leases={[(l.id, lease_pb2.LeaseState.Name(l.state), l.host_id) for l in response.leases]} "
            f"listed={len(listed.leases)}"
        )

    def unary_list_hosts(self):
        host_pb2 = self.pb.host_pb2
        response = self.list_hosts(host_pb2.ListHostsRequest(), timeout=CALL_TIMEOUT)
        hosts = [host for host in response.hosts if host.info.host_id == HOST_ID]
        if not hosts:
            listed = [host.info.host_id for host in response.hosts]
            return False, f"{HOST_ID} not among the {len(listed)} listed hosts {listed}"
        host = hosts[0]
        observed = {
            "capacity.vcpus": host.info.capacity.vcpus,
            "labels[rack]": host.info.labels.get("rack"),
            "health": host_pb2.HostHealth.Name(host.health),
            "load.cpu_utilization": host.load.cpu_utilization,
        }
        expected = {
            "capacity.vcpus": 8,
            "labels[rack]": "r1",
            "health": "HOST_HEALTH_UP",
            "load.cpu_utilization": 0.25,
        }
        ok = observed == expected
        detail = " ".join(f"{key}={value!r}" for key, value in observed.items())
        return ok, (f"{HOST_ID}: {detail}" if ok else f"{HOST_ID}: {detail}; expected {expected}")

    def error_status(self):
        request = self.pb.host_pb2.GetHostRequest(host_id=MISSING_HOST_ID)
        try:
            host = self.get_host(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as error:
            ok = error.code() == grpc.StatusCode.NOT_FOUND and MISSING_HOST_ID in (error.details() or "")
            return ok, describe_error(error)
        return False, f"returned a host (host_id={host.info.host_id!r}) instead of NOT_FOUND"

    def server_streaming(self):
        request = self.pb.agent_pb2.WatchDesiredWorkspacesRequest(host_id=HOST_ID)
        started = time.monotonic()
        call = self.watch_desired_workspaces(request, timeout=CALL_TIMEOUT)
        try:
            first = next(call)
            elapsed = time.monotonic() - started
        except StopIteration:
            return False, f"stream ended without a message, {describe_error(call)}"
        finally:
            call.cancel()
        ok = first.host_id == HOST_ID and elapsed < CALL_TIMEOUT
        return ok, (
            f"first message after {elapsed:.3f}s: host_id={first.host_id!r} version={first.version} "
            f"workspaces={len(first.workspaces)}; after cancel: status {call.code().name}"
        )

    def deadline_exceeded(self):
        request = self.pb.agent_pb2.WatchDesiredWorkspacesRequest(host_id=HOST_ID)
        received = 0
        started = time.monotonic()
        try:
            for _ in self.watch_desired_workspaces(request, timeout=SHORT_DEADLINE):
                received += 1
        except grpc.RpcError as error:
            elapsed = time.monotonic() - started
            ok = error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            return ok, f"{describe_error(error)} after {elapsed:.3f}s, {received} messages received"
        elapsed = time.monotonic() - started
        return False, f"stream ended with OK after {elapsed:.3f}s, {received} messages received"

    def oversized_request(self):
        labels = {f"big-{i:02d}": "x" * HUGE_LABEL_SIZE for i in range(HUGE_LABEL_COUNT)}
        request = self.pb.agent_pb2.RegisterHostRequest(host=self._host_info(HUGE_HOST_ID, labels))
        size = request.ByteSize()
        try:
            self.register_host(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as error:
            rejected = error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            outcome = f"RegisterHost of {size} bytes: {describe_error(error)}"
        else:
            rejected = False
            outcome = f"RegisterHost of {size} bytes succeeded"

        try:
            host_ids = self._list_host_ids()
        except grpc.RpcError as error:
            return False, f"{outcome}; then ListHosts failed: {describe_error(error)}"
        absent = HUGE_HOST_ID not in host_ids
        presence = "absent" if absent else "present"
        listed = f"then ListHosts listed {len(host_ids)} hosts, {HUGE_HOST_ID} {presence}"
        return rejected and absent, f"{outcome}; {listed}"

    def unimplemented_method(self):
        try:
            self.no_such_method(None, timeout=CALL_TIMEOUT)
        except grpc.RpcError as error:
            return error.code() == grpc.StatusCode.UNIMPLEMENTED, describe_error(error)
        return False, "NoSuchMethod returned a response"

    def metadata_and_concurrency(self):
        request = self.pb.host_pb2.ListHostsRequest()
        started = time.monotonic()
        calls = [
            self.list_hosts.future(request, timeout=CALL_TIMEOUT, metadata=[("x-request-id", f"py-{n}")])
            for n in range(CONCURRENT_CALLS)
        ]
        failures = []
        for n, call in enumerate(calls):
            try:
                call.result()
            except grpc.RpcError as error:
                failures.append(f"py-{n}: {describe_error(error)}")
        elapsed = time.monotonic() - started
        detail = f"{CONCURRENT_CALLS - len(failures)}/{CONCURRENT_CALLS} calls succeeded in {elapsed:.3f}s"
        if failures:
            detail += "; " + "; ".join(failures[:5])
        return not failures, detail

    def all(self):
        return [
            ("unary_register", self.unary_register),
            ("unary_heartbeat", self.unary_heartbeat),
            ("unary_list_hosts", self.unary_list_hosts),
            ("lease_group", self.lease_group),
            ("error_status", self.error_status),
            ("server_streaming", self.server_streaming),
            ("deadline_exceeded", self.deadline_exceeded),
            ("oversized_request", self.oversized_request),
            ("unimplemented_method", self.unimplemented_method),
            ("metadata_and_concurrency", self.metadata_and_concurrency),
        ]


def run(name: str, check) -> bool:
    try:
        ok, detail = check()
    except grpc.RpcError as error:
        ok, detail = False, describe_error(error)
    except Exception as error:
        ok, detail = False, f"{type(error).__name__}: {error}"
    print(json.dumps({"check": name, "ok": ok, "detail": detail}), flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="the scheduler's address, host:port")
    contract.add_proto_root_argument(parser)
    args = parser.parse_args()

    pb = contract.load(args.proto_root)
    with grpc.insecure_channel(args.target, options=[("grpc.enable_http_proxy", 0)]) as channel:
        checks = Checks(channel, pb)
        results = [run(name, check) for name, check in checks.all()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
