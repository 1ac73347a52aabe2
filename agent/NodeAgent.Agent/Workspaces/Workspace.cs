using NodeAgent.Agent.Images;
using NodeAgent.Contract;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Workspaces;

/// <summary>The power state a workspace's owner wants.</summary>
public enum DesiredPower
{
    Running,
    Stopped,
    Paused,
}

/// <summary>
/// One workspace as the scheduler wants it, checked again on arrival: the agent trusts no wire value.
/// <see cref="RebootCount"/> counts the reboots its owner has asked for over its life; <see cref="Guest"/> is
/// what the guest is told about itself (NICs, SSH keys), null for a workspace without either.
/// </summary>
public sealed record Workspace(string Id, string Owner, string Image, int Vcpus, long MemoryBytes, long DiskBytes, DateTimeOffset ExpiresAt,
    DesiredPower Power = DesiredPower.Running, ulong RebootCount = 0, WorkspaceGuest? Guest = null)
{
    /// <summary>The catalogue images it boots from; null only for workspaces made in tests without an image source.</summary>
    public WorkspaceImage? ImageSource { get; init; }

    /// <summary>Data disks and I/O limits.</summary>
    public WorkspaceStorage Storage { get; init; } = WorkspaceStorage.None;

    /// <summary>When the workspace is destroyed after its lease ended; <see cref="DateTimeOffset.MaxValue"/> when the scheduler said nothing.</summary>
    public DateTimeOffset DestroyAt { get; init; } = DateTimeOffset.MaxValue;

    /// <summary>The latest save of the root disk asked for; null when none was.</summary>
    public WorkspaceSave? Save { get; init; }

    /// <summary>CPU weight and cap, hard memory limit, NIC bandwidth.</summary>
    public Hypervisor.ResourceLimits Limits { get; init; } = Hypervisor.ResourceLimits.None;

    /// <summary>The libvirt domain name of the workspace.</summary>
    public string DomainName => DomainNames.For(Id);

    public static Workspace FromWire(V1.WorkspaceSpec spec)
    {
        var problems = new List<string>();
        Check(problems, "id", spec.Id);
        Check(problems, "owner", spec.Owner);
        var image = WorkspaceImage.FromWire(spec.Image, problems);
        var resources = spec.Resources ?? new V1.Resources();
        if (resources.Vcpus is < 1 or > 1024)
        {
            problems.Add($"vcpus {resources.Vcpus} is outside 1–1024");
        }

        if (resources.MemoryBytes is < 16 << 20 or > 64UL << 40)
        {
            problems.Add($"memory {resources.MemoryBytes} bytes is outside 16 MiB–64 TiB");
        }

        if (resources.DiskBytes > 1UL << 50)
        {
            problems.Add($"disk {resources.DiskBytes} bytes is over 1 PiB");
        }

        var power = spec.Power switch
        {
            V1.PowerState.Unspecified or V1.PowerState.Running => DesiredPower.Running,
            V1.PowerState.Stopped => DesiredPower.Stopped,
            V1.PowerState.Paused => DesiredPower.Paused,
            var other => (DesiredPower?)null,
        };
        var guest = WorkspaceGuest.FromWire(spec, problems);
        var storage = WorkspaceStorage.FromWire(spec, problems);
        var save = WorkspaceSave.FromWire(spec.Save, problems);
        problems.AddRange(LimitsSyntax.Problems(spec.Limits, resources.MemoryBytes));
        if (power is null)
        {
            problems.Add($"power state {(int)spec.Power} is not one this agent knows (running, stopped, paused)");
        }

        if (problems.Count > 0)
        {
            throw new FormatException($"workspace spec rejected: {string.Join("; ", problems)}");
        }

        return new Workspace(spec.Id, spec.Owner, spec.Image!.Name, (int)resources.Vcpus, (long)resources.MemoryBytes, (long)resources.DiskBytes,
            spec.ExpiresAt?.ToDateTimeOffset() ?? DateTimeOffset.MaxValue, power!.Value, spec.RebootCount, guest)
        {
            ImageSource = image,
            Storage = storage,
            Save = save,
            Limits = Hypervisor.ResourceLimits.FromWire(spec.Limits),
            DestroyAt = spec.DestroyAt?.ToDateTimeOffset() ?? DateTimeOffset.MaxValue,
        };
    }

    private static void Check(List<string> problems, string field, string value)
    {
        if (!IdSyntax.IsValid(value, out var problem))
        {
            problems.Add($"{field} {problem}");
        }
    }
}

/// <summary>NodeAgent names its domains "nodeagent-ID"; any other domain on the host is not NodeAgent's and is never touched.</summary>
public static class DomainNames
{
    public const string Prefix = "nodeagent-";

    public static string For(string workspaceId) => Prefix + workspaceId;

    public static bool TryParse(string domainName, out string workspaceId)
    {
        workspaceId = domainName.StartsWith(Prefix, StringComparison.Ordinal) ? domainName[Prefix.Length..] : string.Empty;
        return IdSyntax.IsValid(workspaceId, out _);
    }
}
