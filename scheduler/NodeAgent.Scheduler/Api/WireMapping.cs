using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Hosts;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// Turns wire messages into the scheduler's own types and back. Requests pass through a
/// <see cref="RequestValidator"/> on the way in; nothing else in the scheduler sees generated classes.
/// </summary>
internal static partial class WireMapping
{
    private const ulong MaxVcpus = 4096;
    private const ulong MaxMemoryBytes = 64UL << 40; // 64 TiB
    private const ulong MaxDiskBytes = 1UL << 50;    // 1 PiB

    public static HostRegistration ToRegistration(V1.HostInfo? info, RequestValidator v)
    {
        v.Require(info is not null, "host is missing");
        info ??= new V1.HostInfo();
        v.Count("host.labels", info.Labels.Count, RequestValidator.MaxLabels);
        v.Count("host.features", info.Features.Count, RequestValidator.MaxFeatures);
        v.Count("host.networks", info.Networks.Count, RequestValidator.MaxNetworks);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in info.Labels.Take(RequestValidator.MaxLabels))
        {
            labels[v.Name("host.labels key", key)] = v.Text($"host.labels[{IdSyntax.Printable(key)}]", value, required: false);
        }

        return new HostRegistration(
            v.HostId("host.host_id", info.HostId),
            v.Text("host.hostname", info.Hostname),
            v.Text("host.agent_version", info.AgentVersion, required: false),
            v.Text("host.architecture", info.Architecture),
            DomainType(info.DomainType, v),
            ToCapacity("host.capacity", info.Capacity, v),
            labels,
            info.Features.Take(RequestValidator.MaxFeatures).Select(f => v.Name("host.features entry", f)).ToList())
        {
            Networks = info.Networks.Take(RequestValidator.MaxNetworks).Select(n => v.NetworkName("host.networks entry", n)).Distinct(StringComparer.Ordinal).ToList(),
        };
    }

    public static Resources ToCapacity(string field, V1.Resources? wire, RequestValidator v)
    {
        v.Require(wire is not null, $"{field} is missing");
        wire ??= new V1.Resources();
        return new Resources(
            (int)v.Range($"{field}.vcpus", wire.Vcpus, 1, MaxVcpus),
            v.Range($"{field}.memory_bytes", wire.MemoryBytes, 1, MaxMemoryBytes),
            v.Range($"{field}.disk_bytes", wire.DiskBytes, 0, MaxDiskBytes));
    }

    public static HostLoad ToLoad(V1.HostLoad? wire, RequestValidator v)
    {
        wire ??= new V1.HostLoad();
        return new HostLoad(
            v.Fraction("load.cpu_utilization", wire.CpuUtilization),
            v.Range("load.memory_available_bytes", wire.MemoryAvailableBytes, 0, MaxMemoryBytes),
            v.NonNegative("load.load_average_1m", wire.LoadAverage1M),
            wire.RunningWorkspaces > 100_000 ? 100_000 : (int)wire.RunningWorkspaces,
            new Resources(
                (int)v.Range("load.foreign.vcpus", wire.Foreign?.Vcpus ?? 0, 0, MaxVcpus),
                v.Range("load.foreign.memory_bytes", wire.Foreign?.MemoryBytes ?? 0, 0, MaxMemoryBytes),
                0));
    }

    public static V1.Resources ToWire(Resources r) =>
        new() { Vcpus = (uint)r.Vcpus, MemoryBytes = (ulong)r.MemoryBytes, DiskBytes = (ulong)r.DiskBytes };

    /// <param name="now">The scheduler's time, to say how long a down host has been silent.</param>
    public static V1.Host ToWire(HostRecord host, HostHealth health, DateTimeOffset now)
    {
        var r = host.Registration;
        var info = new V1.HostInfo
        {
            HostId = r.Id.Value,
            Hostname = r.Hostname,
            AgentVersion = r.AgentVersion,
            Architecture = r.Architecture,
            DomainType = r.DomainType,
            Capacity = ToWire(r.Capacity),
        };
        foreach (var (key, value) in r.Labels)
        {
            info.Labels[key] = value;
        }

        info.Features.Add(r.Features);
        info.Networks.Add(r.Networks);
        return new V1.Host
        {
            Info = info,
            Health = health switch
            {
                HostHealth.Up => V1.HostHealth.Up,
                HostHealth.Degraded => V1.HostHealth.Degraded,
                _ => V1.HostHealth.Down,
            },
            HealthReason = health switch
            {
                HostHealth.Degraded => host.DegradedReason,
                HostHealth.Down => host.SilenceAt(now),
                _ => string.Empty,
            },
            Load = new V1.HostLoad
            {
                CpuUtilization = host.Load.CpuUtilization,
                MemoryAvailableBytes = (ulong)host.Load.MemoryAvailableBytes,
                LoadAverage1M = host.Load.LoadAverage1m,
                RunningWorkspaces = (uint)host.Load.RunningWorkspaces,
                Foreign = ToWire(host.Load.Foreign),
            },
            Allocated = ToWire(host.Allocated),
            RegisteredAt = Timestamp.FromDateTimeOffset(host.RegisteredAt),
            LastHeartbeatAt = host.LastHeartbeatAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
            AdminState = ToWire(host.Admin.State),
            AdminReason = host.Admin.Reason,
            DrainDeadline = host.Admin.DrainDeadline is { } deadline ? Timestamp.FromDateTimeOffset(deadline) : null,
            AdminSince = Timestamp.FromDateTimeOffset(host.Admin.Since),
            AdminChangedBy = host.Admin.ChangedBy,
        };
    }

    public static V1.HostAdminState ToWire(HostAdminState state) => state switch
    {
        HostAdminState.Enabled => V1.HostAdminState.Enabled,
        HostAdminState.Disabled => V1.HostAdminState.Disabled,
        HostAdminState.Draining => V1.HostAdminState.Draining,
        HostAdminState.Drained => V1.HostAdminState.Drained,
        HostAdminState.DrainFailed => V1.HostAdminState.DrainFailed,
        _ => V1.HostAdminState.Unspecified,
    };

    /// <param name="urls">The image repository's URLs for hosts: signed downloads, and where saved disks go.</param>
    /// <param name="expiry">When an expired lease's workspace is destroyed: the agent enforces it when it cannot reach the scheduler.</param>
    public static V1.DesiredWorkspaces ToWire(DesiredSet set, RepositoryUrls urls, Leases.LeaseExpiryPolicy expiry) => new()
    {
        HostId = set.HostId.Value,
        Version = (ulong)set.Version,
        Workspaces = { set.Workspaces.Select(lease => ToSpec(lease, urls, expiry)) },
    };

    public static LeaseRequest ToLeaseRequest(V1.CreateLeaseRequest request, string owner, RequestValidator v)
    {
        var resources = request.Resources ?? new V1.Resources();
        var result = new LeaseRequest(
            owner,
            v.Name("image", request.Image),
            new Resources(
                (int)v.Range("resources.vcpus", resources.Vcpus, 1, 256),
                v.Range("resources.memory_bytes", resources.MemoryBytes, 64UL << 20, 4UL << 40),
                v.Range("resources.disk_bytes", resources.DiskBytes, 0, MaxDiskBytes)),
            v.Duration("duration", request.Duration, TimeSpan.FromMinutes(1), Leases.LeaseManager.MaxLifetime),
            request.RequestId.Length == 0 ? null : v.Text("request_id", request.RequestId))
        {
            Network = request.Network.Length == 0 ? null : v.NetworkName("network", request.Network),
            SshKeys = new ValueList<string>(v.SshKeys("ssh_keys", request.SshKeys)),
            ImageVersion = request.ImageVersion,
            DataDiskBytes = ToDataDisks("data_disk_bytes", request.DataDiskBytes, v),
            DiskLimits = ToDiskLimits(request.DiskLimits, v),
            Limits = ToLimits(request.Limits, resources.MemoryBytes, v),
            Placement = ToPlacement(request.Placement, v),
            DryRun = request.DryRun,
        };
        v.ThrowIfInvalid();
        return result;
    }

    public static V1.Lease ToWire(Lease lease)
    {
        var wire = ToWireWithoutDisks(lease);
        AddDisks(wire, lease);
        AddKind(wire, lease);
        return wire;
    }

    private static V1.Lease ToWireWithoutDisks(Lease lease) => new()
    {
        Id = lease.Id.Value,
        Owner = lease.Owner,
        Project = lease.Project,
        Group = lease.Group ?? string.Empty,
        Image = lease.Image,
        Resources = ToWire(lease.Resources),
        State = lease.State switch
        {
            LeaseState.Pending => V1.LeaseState.Pending,
            LeaseState.Placing => V1.LeaseState.Placing,
            LeaseState.Starting => V1.LeaseState.Starting,
            LeaseState.Running => V1.LeaseState.Running,
            LeaseState.Stopping => V1.LeaseState.Stopping,
            LeaseState.Ended => V1.LeaseState.Ended,
            LeaseState.Failed => V1.LeaseState.Failed,
            LeaseState.Stopped => V1.LeaseState.Stopped,
            LeaseState.Paused => V1.LeaseState.Paused,
            _ => V1.LeaseState.Unspecified,
        },
        StateReason = lease.Reason,
        HostId = lease.Host?.Value ?? string.Empty,
        CreatedAt = Timestamp.FromDateTimeOffset(lease.CreatedAt),
        ExpiresAt = Timestamp.FromDateTimeOffset(lease.ExpiresAt),
        UpdatedAt = Timestamp.FromDateTimeOffset(lease.UpdatedAt),
        Power = ToWire(lease.Power),
        RebootsRequested = (ulong)lease.RebootsRequested,
        RebootsDone = (ulong)lease.RebootsDone,
        Networks = { lease.Networks.Select(ToWire) },
        SshKeys = { lease.SshKeys },
    };

    public static V1.NetworkAttachment ToWire(NetworkAttachment nic) => new()
    {
        Network = nic.Network,
        Mac = nic.Mac,
        Address = nic.Address.ToString(),
        PrefixLength = (uint)nic.PrefixLength,
        Gateway = nic.Gateway?.ToString() ?? string.Empty,
        DnsServers = { nic.DnsServers.Select(d => d.ToString()) },
    };

    public static V1.PowerState ToWire(PowerState power) => power switch
    {
        PowerState.Stopped => V1.PowerState.Stopped,
        PowerState.Paused => V1.PowerState.Paused,
        _ => V1.PowerState.Running,
    };

    private static string DomainType(string value, RequestValidator v)
    {
        v.Require(value is "kvm" or "qemu" or "test", $"host.domain_type is '{IdSyntax.Printable(value)}'; it must be \"kvm\", \"qemu\" or libvirt's \"test\"");
        return value;
    }
}
