"""A grpcio client that tries what a token must not allow, against a scheduler run with --auth token.

An independent peer (Debian's grpcio, given only the .proto files) presents the tokens it is handed and
checks that the scheduler refuses, with the right status and without saying what exists:

    /usr/bin/python3 tests/interop/security_client.py --target 127.0.0.1:PORT \
        --admin TOKEN --user TOKEN --other-user TOKEN --agent TOKEN --agent-host HOST_ID

--user and --other-user are users of two different projects; --agent is an agent token for HOST_ID.
With --tls-target HOST:PORT --ca CA.pem --agent-cert CERT.pem --agent-key KEY.pem --agent-cert-host ID, it also
connects over TLS to a scheduler run with --client-ca, presents an agent's client certificate for host ID, and tries
it for another host.
It prints one JSON object per check on its own line,
    {"check": "<name>", "ok": true|false, "detail": "<what was observed>"}
and exits 0 if every check passed, 1 otherwise.
"""

import argparse
import json
import sys

import grpc

sys.dont_write_bytecode = True
import contract  # noqa: E402

CALL_TIMEOUT = 5.0
LEASE_SERVICE = contract.PACKAGE + ".LeaseService"
TOKEN_SERVICE = contract.PACKAGE + ".TokenService"
QUOTA_SERVICE = contract.PACKAGE + ".QuotaService"
IMAGE_SERVICE = contract.PACKAGE + ".ImageService"


class Refused(Exception):
    pass


class Client:
    def __init__(self, channel, pb):
        self.pb = pb

        def unary(service, method, request, response):
            return channel.unary_unary(contract.method_path(service, method),
                                       request_serializer=request.SerializeToString,
                                       response_deserializer=response.FromString)

        agent, host, lease, quota, image, token = pb.agent_pb2, pb.host_pb2, pb.lease_pb2, pb.quota_pb2, pb.image_pb2, pb.token_pb2
        self.register_host = unary(contract.AGENT_SERVICE, "RegisterHost", agent.RegisterHostRequest, agent.RegisterHostResponse)
        self.heartbeat = unary(contract.AGENT_SERVICE, "Heartbeat", agent.HeartbeatRequest, agent.HeartbeatResponse)
        self.watch_desired = channel.unary_stream(contract.method_path(contract.AGENT_SERVICE, "WatchDesiredWorkspaces"),
                                                  request_serializer=agent.WatchDesiredWorkspacesRequest.SerializeToString,
                                                  response_deserializer=agent.DesiredWorkspaces.FromString)
        self.list_hosts = unary(contract.HOST_SERVICE, "ListHosts", host.ListHostsRequest, host.ListHostsResponse)
        self.list_leases = unary(LEASE_SERVICE, "ListLeases", lease.ListLeasesRequest, lease.ListLeasesResponse)
        self.get_lease = unary(LEASE_SERVICE, "GetLease", lease.GetLeaseRequest, lease.Lease)
        self.release_lease = unary(LEASE_SERVICE, "ReleaseLease", lease.ReleaseLeaseRequest, lease.Lease)
        self.set_quota = unary(QUOTA_SERVICE, "SetQuota", quota.SetQuotaRequest, quota.Quota)
        self.retire_image = unary(IMAGE_SERVICE, "RetireImage", image.RetireImageRequest, image.Image)
        self.create_token = unary(TOKEN_SERVICE, "CreateToken", token.CreateTokenRequest, token.CreatedToken)
        self.revoke_token = unary(TOKEN_SERVICE, "RevokeToken", token.RevokeTokenRequest, token.Token)
        self.who_am_i = unary(TOKEN_SERVICE, "WhoAmI", token.WhoAmIRequest, token.Identity)


def bearer(token):
    return [("authorization", "Bearer " + token)] if token is not None else []


def status_of(call, *args, **kwargs):
    """(code name, details) of a call that must fail; raises if it succeeded."""
    try:
        call(*args, timeout=CALL_TIMEOUT, **kwargs)
    except grpc.RpcError as error:
        return error.code().name, error.details() or ""
    raise Refused("the call succeeded")


def expect(code, call, *args, **kwargs):
    got, details = status_of(call, *args, **kwargs)
    return got == code, f"{got}: {details!r}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    for name in ("admin", "user", "other-user", "agent", "agent-host"):
        parser.add_argument("--" + name, required=True)
    for name in ("tls-target", "ca", "agent-cert", "agent-key", "agent-cert-host"):
        parser.add_argument("--" + name)
    contract.add_proto_root_argument(parser)
    args = parser.parse_args()
    pb = contract.load(args.proto_root)
    lease_pb, agent_pb, host_pb, token_pb = pb.lease_pb2, pb.agent_pb2, pb.host_pb2, pb.token_pb2

    results = []

    def check(name, function):
        try:
            ok, detail = function()
        except Refused as e:
            ok, detail = False, str(e)
        except grpc.RpcError as error:
            ok, detail = False, f"unexpected status {error.code().name}: {error.details()!r}"
        print(json.dumps({"check": name, "ok": ok, "detail": detail}), flush=True)
        results.append(ok)

    with grpc.insecure_channel(args.target, options=[("grpc.enable_http_proxy", 0)]) as channel:
        c = Client(channel, pb)

        check("no_token_unauthenticated", lambda: expect("UNAUTHENTICATED", c.list_leases, lease_pb.ListLeasesRequest()))
        check("garbage_token_unauthenticated",
              lambda: expect("UNAUTHENTICATED", c.list_leases, lease_pb.ListLeasesRequest(), metadata=bearer("nat_<script>';--")))

        def forged():
            # The right id with another secret: the same answer as an unknown token.
            forged_token = args.user[:-4] + ("AAAA" if not args.user.endswith("AAAA") else "BBBB")
            code, forged_detail = status_of(c.list_leases, lease_pb.ListLeasesRequest(), metadata=bearer(forged_token))
            _, unknown_detail = status_of(c.list_leases, lease_pb.ListLeasesRequest(), metadata=bearer("nat_0123456789abcdef_" + "A" * 43))
            return code == "UNAUTHENTICATED" and forged_detail == unknown_detail, f"{code}: {forged_detail!r} / unknown: {unknown_detail!r}"
        check("forged_secret_same_answer_as_unknown", forged)

        check("user_list_hosts_denied", lambda: expect("PERMISSION_DENIED", c.list_hosts, host_pb.ListHostsRequest(), metadata=bearer(args.user)))
        check("user_set_quota_denied", lambda: expect("PERMISSION_DENIED", c.set_quota, pb.quota_pb2.SetQuotaRequest(project="other"), metadata=bearer(args.user)))
        check("user_retire_image_denied", lambda: expect("PERMISSION_DENIED", c.retire_image, pb.image_pb2.RetireImageRequest(name="x"), metadata=bearer(args.user)))
        check("user_create_token_denied", lambda: expect(
            "PERMISSION_DENIED", c.create_token, token_pb.CreateTokenRequest(user="me", role=token_pb.ROLE_ADMIN), metadata=bearer(args.user)))
        check("user_heartbeat_denied", lambda: expect(
            "PERMISSION_DENIED", c.heartbeat, agent_pb.HeartbeatRequest(host_id=args.agent_host), metadata=bearer(args.user)))

        def other_projects_lease_hidden():
            # The user's lease ids, as the user sees them; the other project's user must get what a missing lease gets.
            leases = c.list_leases(lease_pb.ListLeasesRequest(), timeout=CALL_TIMEOUT, metadata=bearer(args.user)).leases
            if not leases:
                return False, "the user has no lease to look for"
            lease_id = leases[0].id
            theirs = c.list_leases(lease_pb.ListLeasesRequest(), timeout=CALL_TIMEOUT, metadata=bearer(args.other_user)).leases
            if any(l.id == lease_id for l in theirs):
                return False, f"{lease_id} is listed for the other project"
            code, detail = status_of(c.get_lease, lease_pb.GetLeaseRequest(id=lease_id), metadata=bearer(args.other_user))
            missing_code, missing = status_of(c.get_lease, lease_pb.GetLeaseRequest(id="w-nosuchlease"), metadata=bearer(args.other_user))
            same = detail.replace(lease_id, "ID") == missing.replace("w-nosuchlease", "ID")
            release_code, _ = status_of(c.release_lease, lease_pb.ReleaseLeaseRequest(id=lease_id), metadata=bearer(args.other_user))
            still = c.get_lease(lease_pb.GetLeaseRequest(id=lease_id), timeout=CALL_TIMEOUT, metadata=bearer(args.user))
            ok = code == missing_code == release_code == "NOT_FOUND" and same and still.state != lease_pb.LEASE_STATE_ENDED
            return ok, f"get {code} {detail!r}; missing {missing_code} {missing!r}; release {release_code}; still {still.state}"
        check("other_projects_lease_hidden", other_projects_lease_hidden)

        def agent_wrong_host():
            request = agent_pb.HeartbeatRequest(host_id="someone-elses-host")
            request.capacity.vcpus = 1
            return expect("PERMISSION_DENIED", c.heartbeat, request, metadata=bearer(args.agent))
        check("agent_token_for_wrong_host_denied", agent_wrong_host)

        def agent_watch_wrong_host():
            stream = c.watch_desired(agent_pb.WatchDesiredWorkspacesRequest(host_id="someone-elses-host"), timeout=CALL_TIMEOUT, metadata=bearer(args.agent))
            try:
                next(stream)
            except grpc.RpcError as error:
                return error.code().name == "PERMISSION_DENIED", f"{error.code().name}: {error.details()!r}"
            return False, "the stream sent another host's workspaces"
        check("agent_cannot_watch_other_hosts_workspaces", agent_watch_wrong_host)
        check("agent_list_leases_denied", lambda: expect("PERMISSION_DENIED", c.list_leases, lease_pb.ListLeasesRequest(), metadata=bearer(args.agent)))

        def stolen_token_after_revocation():
            made = c.create_token(token_pb.CreateTokenRequest(user="mallory-victim", project="p-victim", role=token_pb.ROLE_USER),
                                  timeout=CALL_TIMEOUT, metadata=bearer(args.admin))
            stolen = made.secret
            before = c.who_am_i(token_pb.WhoAmIRequest(), timeout=CALL_TIMEOUT, metadata=bearer(stolen))
            c.revoke_token(token_pb.RevokeTokenRequest(id=made.token.id), timeout=CALL_TIMEOUT, metadata=bearer(args.admin))
            code, detail = status_of(c.who_am_i, token_pb.WhoAmIRequest(), metadata=bearer(stolen))
            return before.user == "mallory-victim" and code == "UNAUTHENTICATED", f"before: {before.user}; after revocation: {code} {detail!r}"
        check("stolen_token_after_revocation_unauthenticated", stolen_token_after_revocation)

    if args.tls_target:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(args.ca), private_key=read(args.agent_key), certificate_chain=read(args.agent_cert))
        options = [("grpc.enable_http_proxy", 0), ("grpc.ssl_target_name_override", "localhost")]
        with grpc.secure_channel(args.tls_target, credentials, options=options) as channel:
            c = Client(channel, pb)

            def own_host():
                info = agent_pb.HostInfo(host_id=args.agent_cert_host, hostname="py-tls", agent_version="grpcio",
                                         architecture="x86_64", domain_type="qemu")
                info.capacity.vcpus = 2
                info.capacity.memory_bytes = 1 << 30
                info.capacity.disk_bytes = 1 << 30
                c.register_host(agent_pb.RegisterHostRequest(host=info), timeout=CALL_TIMEOUT)
                who = c.who_am_i(token_pb.WhoAmIRequest(), timeout=CALL_TIMEOUT)
                return who.host_id == args.agent_cert_host and who.role == token_pb.ROLE_AGENT, f"registered; whoami: {who.role} {who.host_id}"
            check("tls_agent_certificate_registers_its_own_host", own_host)

            def wrong_host():
                request = agent_pb.HeartbeatRequest(host_id="someone-elses-host")
                request.capacity.vcpus = 1
                return expect("PERMISSION_DENIED", c.heartbeat, request)
            check("tls_agent_certificate_for_wrong_host_denied", wrong_host)

    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
