using Google.Protobuf.WellKnownTypes;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Workspaces;
using NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Reporting;

/// <summary>
/// Builds what the agent tells the scheduler about its host: identity, capacity, measured load, held workspaces, cached
/// images. Labels and capacity come from <paramref name="settings"/> when given, so a reload changes the next heartbeat.
/// </summary>
public sealed class HeartbeatSource(
    HostDescription host, HostProbe probe, DesiredState desired, WorkspaceInventory inventory, IHypervisor hypervisor, Images.ImageCache images, AgentOptions options, TimeProvider time,
    NodeAgent.Service.Reloadable<AgentOptions>? settings = null)
{
    private AgentOptions Options => settings?.Current ?? options;

    public string HostId => host.Id.Value;

    public HostInfo Registration()
    {
        var info = new HostInfo
        {
            HostId = host.Id.Value,
            Hostname = host.Hostname,
            AgentVersion = typeof(HeartbeatSource).Assembly.GetName().Version?.ToString(3) ?? "0",
            Architecture = host.Architecture,
            DomainType = host.DomainType,
            Capacity = Capacity(),
        };
        info.Networks.Add(Options.Networks.Select(n => n.Name.Value));
        foreach (var (key, value) in Options.Labels)
        {
            info.Labels[key] = value;
        }

        return info;
    }

    public HeartbeatRequest Heartbeat()
    {
        var (cpu, available, loadavg) = probe.SampleLoad();
        var held = inventory.Held;
        var foreign = inventory.Foreign;
        var request = new HeartbeatRequest
        {
            HostId = host.Id.Value,
            Capacity = Capacity(),
            Load = new HostLoad
            {
                CpuUtilization = cpu,
                MemoryAvailableBytes = (ulong)available,
                LoadAverage1M = loadavg,
                RunningWorkspaces = (uint)held.Count,
                Foreign = new Resources { Vcpus = (uint)foreign.Vcpus, MemoryBytes = (ulong)foreign.MemoryBytes },
            },
            AppliedVersion = desired.AppliedVersion,
            SentAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            DegradedReason = hypervisor.Unavailable is { } why ? $"libvirt unavailable: {why}" : string.Empty,
        };
        request.WorkspaceIds.Add(held.Keys);
        request.CachedImages.Add(images.Digests());
        return request;
    }

    // What the host offers, after the reservation for the host itself and the overcommit ratios; disk is offered as it is.
    private Resources Capacity()
    {
        var offer = Options.Capacity.Offer(new HostSize(host.Vcpus, host.MemoryBytes));
        return new() { Vcpus = (uint)offer.Vcpus, MemoryBytes = (ulong)offer.MemoryBytes, DiskBytes = (ulong)host.DiskBytes };
    }
}
