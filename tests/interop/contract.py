"""The NodeAgent wire contract, compiled from its .proto files for the interop scripts.

The interop scripts (client.py, server.py) stand in for a gRPC peer written by someone else, so
they take nothing from the C# build: at start-up they run protoc over proto/nodeagent/v1/*.proto
into a temporary directory and import the generated message modules from there. Service stubs
are not generated; the scripts call and serve methods through grpcio's generic APIs.
"""

import argparse
import glob
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_PROTO_ROOT = os.path.join(REPO_ROOT, "proto")
WELL_KNOWN_TYPES_INCLUDE = "/usr/include"

PACKAGE = "nodeagent.v1"
AGENT_SERVICE = PACKAGE + ".AgentService"
HOST_SERVICE = PACKAGE + ".HostService"
LEASE_SERVICE = PACKAGE + ".LeaseService"
IMAGE_SERVICE = PACKAGE + ".ImageService"

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_MODULES = ("common_pb2", "agent_pb2", "host_pb2", "lease_pb2", "usage_pb2", "quota_pb2", "image_pb2", "token_pb2")


def add_proto_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proto-root",
        default=DEFAULT_PROTO_ROOT,
        help="directory holding nodeagent/v1/*.proto (default: %(default)s)",
    )


def method_path(service: str, method: str) -> str:
    return f"/{service}/{method}"


def load(proto_root: str = DEFAULT_PROTO_ROOT) -> types.SimpleNamespace:
    """Compiles the contract and returns its message modules as attributes (agent_pb2, host_pb2, ...).

    The generated code lives in a fresh temporary directory only while it is imported; once the
    modules are loaded they no longer need their files, so the directory is removed before returning.
    """
    protos = sorted(glob.glob(os.path.join(proto_root, "nodeagent", "v1", "*.proto")))
    if not protos:
        raise FileNotFoundError(f"no .proto files under {os.path.join(proto_root, 'nodeagent', 'v1')}")

    out_dir = tempfile.mkdtemp(prefix="nodeagent-interop-")
    try:
        result = subprocess.run(
            ["protoc", "-I", proto_root, "-I", WELL_KNOWN_TYPES_INCLUDE, f"--python_out={out_dir}", *protos],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"protoc failed with exit code {result.returncode}: {result.stderr.strip()}")

        sys.path.insert(0, out_dir)
        try:
            modules = {name: importlib.import_module(f"{PACKAGE}.{name}") for name in _MODULES}
        finally:
            sys.path.remove(out_dir)
        return types.SimpleNamespace(**modules)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
