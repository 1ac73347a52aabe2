# NodeAgent — build, test, publish.
#   make demo       lease, boot, list and release one real workspace on this machine
#   make test       install test prerequisites (idempotent), build, run every test
#   make publish    native-AOT binaries of nodeagent, nodeagent-scheduler and ws in out/bin
#   make deb rpm    nodeagent, nodeagent-scheduler and ws packages from those binaries, in out/packages
#   make package-lint   lintian, rpmlint and systemd-analyze verify of the packages in out/packages
#   make package-test   install test of the .debs under a real systemd (nspawn container), checks of the .rpms
#   make bench-rpc  gRPC transport benchmark; writes docs/benchmarks.md
#   make bench-lease  lease-to-running time on real libvirtd + QEMU; writes docs/benchmarks.md
#   make bench-footprint  sizes and resident memory of the native-AOT programs; writes docs/benchmarks.md
#   make bench-agent-load  agent memory and CPU with 100 test-driver and 5 real workspaces; writes docs/benchmarks.md
#   make bench-startup  start-up to READY=1 of the native-AOT daemons; writes docs/benchmarks.md
#   make bench-placement  placements/s, latency, heartbeats/s, memory at 100, 1,000, 10,000 hosts (and 10,000 with 100,000 live leases), placements sent by h2load; writes docs/benchmarks.md
#   make bench-placement-load  placements/s and latency at 10,000 hosts (and with 100,000 live leases) by calls in flight, 8 to 64; writes docs/benchmarks.md
#   make bench-placement-pairs  placement cost at 1,000 and 10,000 hosts in alternating bursts, 20 pairs (the flat-cost target); writes docs/benchmarks.md
#   make bench-placement-groups  the same with CreateLeases requests of 10 workspaces each, at 1,000 and 10,000 hosts; writes docs/benchmarks.md
#   make bench-sqlite-schema  what SQLite spends on writing a placed lease with the scheduler's schema, part by part; writes docs/benchmarks.md
#   make bench-placement-postgresql  the same on PostgreSQL, with 1 and with 3 scheduler replicas sharing it; writes docs/benchmarks.md
#   make bench-overlay  root-disk overlay creation on 10 GiB and 64 MiB raw and qcow2 bases; writes docs/benchmarks.md
#   make bench-metrics  agent /metrics render time and size with 100 workspaces (synthetic stats, no libvirt); writes docs/benchmarks.md
#   make bench-metering  CPU, wall time and journal growth of one metering pass with 100 test:///default domains; writes docs/benchmarks.md

SHELL := /bin/bash
DOTNET ?= dotnet
RID ?= linux-x64
OUT ?= out
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

PROGRAMS := agent/NodeAgent.Agent scheduler/NodeAgent.Scheduler scheduler/NodeAgent.Cli

# The Debian revision and RPM release of `make deb rpm`; bump it to package the same program again.
PKG_RELEASE ?= 1

.PHONY: all deps build test demo publish deb rpm package-lint package-test bench-rpc bench-lease bench-footprint bench-agent-load bench-overlay bench-metrics bench-metering bench-placement bench-placement-load bench-placement-pairs bench-placement-groups bench-placement-postgresql bench-sqlite-schema bench-startup clean

all: build

# Test prerequisites on Debian 12: packages, a running libvirtd, and the cached test guest.
deps:
	@tests/setup/install-deps.sh
	@tests/setup/start-libvirtd.sh
	@tests/setup/start-postgres.sh
	@tests/guest/build-guest.sh >/dev/null

demo:
	@tests/demo.sh

build:
	$(DOTNET) build NodeAgent.sln --nologo -v q

test: deps build
	@tests/setup/run-tests.sh --no-build

# Publishes each program with native AOT and fails on any AOT or trim warning (IL2xxx/IL3xxx).
publish:
	@mkdir -p $(OUT)/bin $(OUT)/log
	@set -e; for p in $(PROGRAMS); do \
	  name=$$(basename $$p); \
	  echo "publish: $$p (native AOT, $(RID))"; \
	  $(DOTNET) publish $$p -c Release -r $(RID) --nologo -o $(OUT)/publish/$$name > $(OUT)/log/$$name.log 2>&1 \
	    || { cat $(OUT)/log/$$name.log; exit 1; }; \
	  if grep -E "warning (IL[23][0-9]{3}|NETSDK|CS)" $(OUT)/log/$$name.log; then echo "publish: $$name has warnings" >&2; exit 1; fi; \
	  find $(OUT)/publish/$$name -maxdepth 1 -type f -perm -u+x ! -name '*.dbg' -exec cp {} $(OUT)/bin/ \; ; \
	done
	@ls -l $(OUT)/bin

# Packages (docs/packaging.md). Both depend on publish, which a `make deb rpm` runs once.
deb: publish
	@packaging/build-deb.sh --bin $(OUT)/bin --out $(OUT)/packages --release $(PKG_RELEASE)

rpm: publish
	@packaging/build-rpm.sh --bin $(OUT)/bin --out $(OUT)/packages --release $(PKG_RELEASE)

package-lint:
	@packaging/lint.sh $(wildcard $(OUT)/packages/*.deb $(OUT)/packages/*.rpm)

# Part of `make test` too (tests/NodeAgent.Tests/Packaging); under a minute with its cache in /var/cache/nodeagent.
package-test:
	@tests/setup/package-install-test.sh

bench-rpc:
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- rpc --in-flight 64 --seconds 10 --runs 3 --write docs/benchmarks.md

bench-lease: deps
	$(DOTNET) build NodeAgent.sln -c Release --nologo -v q
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release --no-build -- lease --runs 10 --write docs/benchmarks.md

bench-footprint: publish
	@tests/setup/bench-footprint.sh

bench-agent-load: deps publish
	@tests/setup/bench-agent-load.sh

bench-overlay:
	@tests/setup/ensure-packages.sh bench-overlay qemu-utils
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- overlay --runs 30 --write docs/benchmarks.md

bench-metrics:
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- metrics --workspaces 100 --runs 500 --write docs/benchmarks.md

bench-metering:
	@tests/setup/ensure-packages.sh bench-metering libvirt0
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- metering --workspaces 100 --passes 200 --warmup 20 --write docs/benchmarks.md

bench-startup: publish
	@tests/setup/ensure-packages.sh bench-startup libvirt0
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- startup --binaries $(OUT)/bin --runs 10 --write docs/benchmarks.md

bench-placement: publish
	@tests/setup/ensure-packages.sh bench-placement nghttp2-client
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- placement --hosts 100,1000,10000,10000:100000 --leases 20000 --heartbeat-seconds 10 \
	  --runs 3 --client h2load --scheduler $(OUT)/bin/nodeagent-scheduler --write docs/benchmarks.md

bench-placement-load: publish
	@tests/setup/ensure-packages.sh bench-placement nghttp2-client
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- placement --hosts 10000,10000:100000 --leases 20000 --heartbeat-seconds 3 \
	  --in-flight 8,16,24,32,64 --runs 3 --client h2load --scheduler $(OUT)/bin/nodeagent-scheduler --write docs/benchmarks.md

bench-placement-pairs: publish
	@tests/setup/ensure-packages.sh bench-placement nghttp2-client
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- placement-pairs --hosts 1000,10000 --rounds 20 --burst 8000 \
	  --scheduler $(OUT)/bin/nodeagent-scheduler --write docs/benchmarks.md

bench-placement-groups: publish
	@tests/setup/ensure-packages.sh bench-placement nghttp2-client
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- placement --hosts 1000,10000 --leases 10000 --group-size 10 --heartbeat-seconds 3 \
	  --runs 3 --client h2load --scheduler $(OUT)/bin/nodeagent-scheduler --write docs/benchmarks.md

bench-sqlite-schema: publish
	$(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- sqlite-schema --hosts 10000 --leases 40000 \
	  --scheduler $(OUT)/bin/nodeagent-scheduler --write docs/benchmarks.md

bench-placement-postgresql: publish
	tests/setup/start-postgres.sh
	@tests/setup/ensure-packages.sh bench-placement nghttp2-client
	for replicas in 1 3; do \
	  $(DOTNET) run --project tests/NodeAgent.Benchmarks -c Release -- placement --hosts 100,1000,10000,10000:20000 --leases 2000 --heartbeat-seconds 10 \
	    --store postgresql --replicas $$replicas --client h2load --scheduler $(OUT)/bin/nodeagent-scheduler --write docs/benchmarks.md || exit 1; \
	done

clean:
	rm -rf $(OUT)
	$(DOTNET) clean NodeAgent.sln --nologo -v q
