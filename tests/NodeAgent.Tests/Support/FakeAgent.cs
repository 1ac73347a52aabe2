using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Scheduler;

namespace NodeAgent.Tests.Support;

/// <summary>
/// Plays one host's agent against the real scheduler over the real AgentService RPC: registers, watches the
/// desired set as an agent does, and reports workspace states. A stand-in because the real agent needs libvirt,
/// and its side of power actions is built separately; everything on the scheduler's side is real.
/// </summary>
internal sealed class FakeAgent(RpcChannel channel, string hostId)
{
    private readonly AgentServiceClient _client = new(channel);
    private uint _vcpus = 4;

    public string HostId { get; } = hostId;

    /// <summary>Registers the host with <paramref name="networks"/> as the networks it has a bridge for.</summary>
    public async Task RegisterAsync(uint vcpus = 4, params string[] networks)
    {
        _vcpus = vcpus;
        var info = HostApiTests.Info(HostId, vcpus);
        info.Networks.Add(networks);
        await _client.RegisterHostAsync(new RegisterHostRequest { Host = info });
        await HeartbeatAsync();
    }

    /// <summary>Sends a heartbeat and returns the scheduler's desired-set version for the host.</summary>
    public async Task<ulong> HeartbeatAsync(params string[] held)
    {
        var response = await _client.HeartbeatAsync(new HeartbeatRequest { HostId = HostId, Capacity = HostApiTests.Info(HostId, _vcpus).Capacity, WorkspaceIds = { held } });
        return response.DesiredVersion;
    }

    /// <summary>Sends a heartbeat listing the digests of the images the host has cached.</summary>
    public Task HeartbeatWithImagesAsync(params string[] cachedImages) =>
        _client.HeartbeatAsync(new HeartbeatRequest { HostId = HostId, Capacity = HostApiTests.Info(HostId, _vcpus).Capacity, CachedImages = { cachedImages } });

    /// <summary>Sends a heartbeat measuring the host's CPU at <paramref name="cpuUtilization"/> (0 to 1).</summary>
    public Task HeartbeatWithLoadAsync(double cpuUtilization) =>
        _client.HeartbeatAsync(new HeartbeatRequest { HostId = HostId, Capacity = HostApiTests.Info(HostId, _vcpus).Capacity, Load = new HostLoad { CpuUtilization = cpuUtilization } });

    /// <summary>Reports one status as it is, with whatever disk usage or save result it carries.</summary>
    public Task ReportAsync(WorkspaceStatus status) =>
        _client.ReportWorkspaceStatusAsync(new ReportWorkspaceStatusRequest { HostId = HostId, Statuses = { status } });

    public Task ReportAsync(string lease, WorkspaceState state, ulong rebootCount = 0, string message = "") =>
        _client.ReportWorkspaceStatusAsync(new ReportWorkspaceStatusRequest
        {
            HostId = HostId,
            Statuses = { new WorkspaceStatus { Id = lease, State = state, Message = message, RebootCount = rebootCount } },
        });

    /// <summary>The host's current desired set: the first message of the watch, which the scheduler sends at once.</summary>
    public async Task<DesiredWorkspaces> DesiredAsync()
    {
        await foreach (var desired in _client.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = HostId }, CallOptions.WithTimeout(TimeSpan.FromSeconds(5))))
        {
            return desired;
        }

        throw new InvalidOperationException($"no desired set for {HostId}");
    }

    /// <summary>Watches the desired set, as an agent does, until the lease's spec matches <paramref name="wanted"/>.</summary>
    public async Task<WorkspaceSpec> WaitForSpecAsync(string lease, Func<WorkspaceSpec, bool> wanted, TimeSpan limit)
    {
        await foreach (var desired in _client.WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = HostId }, CallOptions.WithTimeout(limit)))
        {
            if (desired.Workspaces.FirstOrDefault(w => w.Id == lease) is { } spec && wanted(spec))
            {
                return spec;
            }
        }

        throw new InvalidOperationException($"the desired set of {HostId} ended before lease {lease} matched");
    }
}
