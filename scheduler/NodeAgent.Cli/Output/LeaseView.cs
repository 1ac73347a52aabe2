using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Output;

/// <summary>How leases look to people.</summary>
public static class LeaseView
{
    public static string StateName(LeaseState state) => state switch
    {
        LeaseState.Pending => "pending",
        LeaseState.Placing => "placing",
        LeaseState.Starting => "starting",
        LeaseState.Running => "running",
        LeaseState.Stopping => "stopping",
        LeaseState.Ended => "ended",
        LeaseState.Failed => "failed",
        LeaseState.Stopped => "stopped",
        LeaseState.Paused => "paused",
        _ => "unknown",
    };

    /// <summary>"queued" for a best-effort lease waiting for a host, "reserved" for a reservation before its start, else the state's name.</summary>
    public static string StateLabel(Lease lease) => (lease.State, lease.Kind) switch
    {
        (LeaseState.Pending, LeaseKind.BestEffort) => "queued",
        (LeaseState.Pending, LeaseKind.Reservation) => "reserved",
        _ => StateName(lease.State),
    };

    /// <summary>UNSPECIFIED (a scheduler from before lease kinds) reads as immediate.</summary>
    public static string KindName(LeaseKind kind) => kind switch
    {
        LeaseKind.BestEffort => "best-effort",
        LeaseKind.Reservation => "reservation",
        _ => "immediate",
    };

    /// <summary>"3 running, 1 starting": how many of the leases are in each state, in the order of the states.</summary>
    public static string Tally(IEnumerable<Lease> leases) => string.Join(", ",
        leases.GroupBy(l => (l.State, Label: StateLabel(l))).OrderBy(g => g.Key.State).Select(g => $"{g.Count()} {g.Key.Label}"));

    /// <summary>"3rd in project alice's queue" for a queued lease; empty otherwise.</summary>
    public static string QueuePlace(Lease lease) =>
        lease.QueuePosition == 0 ? string.Empty : $"{Ordinal(lease.QueuePosition)} in project {(lease.Project.Length > 0 ? lease.Project : lease.Owner)}'s queue";

    /// <summary>"1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", ...</summary>
    public static string Ordinal(uint n)
    {
        var suffix = (n % 100) is 11 or 12 or 13 ? "th" : (n % 10) switch
        {
            1 => "st",
            2 => "nd",
            3 => "rd",
            _ => "th",
        };
        return n.ToString(System.Globalization.CultureInfo.InvariantCulture) + suffix;
    }

    /// <summary>The power state the owner wants; UNSPECIFIED reads as running.</summary>
    public static PowerState Power(Lease lease) => lease.Power == PowerState.Unspecified ? PowerState.Running : lease.Power;

    public static string PowerName(PowerState power) => power switch
    {
        PowerState.Stopped => "stopped",
        PowerState.Paused => "paused",
        _ => "running",
    };

    /// <summary>Whether the lease has a workspace on a host, whose power state means something.</summary>
    private static bool Placed(Lease lease) => lease.State is LeaseState.Starting or LeaseState.Running or LeaseState.Stopped or LeaseState.Paused;

    public static string RenderList(IEnumerable<Lease> leases)
    {
        var table = new Table("LEASE", "STATE", "POWER", "HOST", "ADDRESS", "IMAGE", "VCPUS", "MEMORY", "EXPIRES", "KIND");
        var now = DateTimeOffset.UtcNow;
        foreach (var l in leases)
        {
            var queued = StateLabel(l) == "queued";
            table.Add(l.Id, StateLabel(l), Placed(l) ? PowerName(Power(l)) : "-", l.HostId.Length == 0 ? "-" : l.HostId,
                l.Networks.Count == 0 ? "-" : l.Networks[0].Address, l.Image,
                l.Resources.Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture), Units.Bytes(l.Resources.MemoryBytes),
                l.State is LeaseState.Ended or LeaseState.Failed ? "-" : (queued ? "gives up " : string.Empty) + Until(l.ExpiresAt.ToDateTimeOffset() - now),
                KindName(l.Kind) + (queued && l.QueuePosition > 0 ? $", {Ordinal(l.QueuePosition)} in queue"
                    : StateLabel(l) == "reserved" && l.Start is { } start ? ", starts " + Until(start.ToDateTimeOffset() - now) : string.Empty)
                + (l.Group.Length > 0 ? ", group " + l.Group : string.Empty));
        }

        return table.ToString();
    }

    /// <summary>The lease in full; <paramref name="sshUser"/> goes into the printed ssh command when given.</summary>
    public static string Render(Lease l, string? sshUser = null) => $"""
        Lease:     {l.Id}
        State:     {StateName(l.State)} — {l.StateReason}
        Kind:      {Kind(l)}{(l.Group.Length > 0 ? $"; one of group {l.Group}" : string.Empty)}
        Power:     {(Placed(l) ? PowerName(Power(l)) + " (as its owner asked)" : "-")}
        Reboots:   {l.RebootsRequested} asked for, {l.RebootsDone} carried out
        Host:      {(l.HostId.Length == 0 ? "-" : l.HostId)}
        Owner:     {l.Owner}{(l.Project.Length > 0 && l.Project != l.Owner ? $" (project {l.Project})" : string.Empty)}
        Image:     {ImageName(l)}
        Resources: {l.Resources.Vcpus} vCPUs, {Units.Bytes(l.Resources.MemoryBytes)} memory, {(l.Resources.DiskBytes == 0 ? "image-sized" : Units.Bytes(l.Resources.DiskBytes))} disk
        Disks:     {Disks(l)}
        Limits:    {Limits(l)}
        Placement: {Placement(l)}
        Save:      {Save(l)}
        Created:   {l.CreatedAt.ToDateTimeOffset():u}
        Expires:   {l.ExpiresAt.ToDateTimeOffset():u}{(l.State is LeaseState.Ended or LeaseState.Failed ? string.Empty : $" ({(StateLabel(l) == "queued" ? "gives up waiting " : string.Empty)}{Until(l.ExpiresAt.ToDateTimeOffset() - DateTimeOffset.UtcNow)})")}
        {Networks(l)}
        SSH keys:  {Keys(l)}
        {Ssh(l, sshUser)}

        """;

    /// <summary>
    /// "immediate"; "best-effort — 2nd in project alice's queue since 2026-11-30 08:00:00Z; runs 3h once placed";
    /// "reservation — 2026-12-01 09:00:00Z until 2026-12-01 13:00:00Z (starts in 2d)".
    /// </summary>
    private static string Kind(Lease l)
    {
        var name = KindName(l.Kind);
        if (StateLabel(l) == "queued")
        {
            var place = l.QueuePosition > 0 ? QueuePlace(l) + " " : "in the queue ";
            var since = l.QueuedAt is { } queued ? $"since {queued.ToDateTimeOffset():u}" : string.Empty;
            return $"{name} — {place}{since}; runs {Hours(l.RunDuration?.ToTimeSpan() ?? TimeSpan.Zero)} once placed";
        }

        if (l.Kind == LeaseKind.Reservation && l.Start is { } start)
        {
            var window = $"{name} — {start.ToDateTimeOffset():u} until {l.ExpiresAt.ToDateTimeOffset():u}";
            return StateLabel(l) == "reserved" ? $"{window} (starts {Until(start.ToDateTimeOffset() - DateTimeOffset.UtcNow)})" : window;
        }

        return name;
    }

    /// <summary>"3h", "1h30m", "2d4h": a run time as ws takes durations.</summary>
    private static string Hours(TimeSpan span)
    {
        var parts = new[]
        {
            span.Days > 0 ? $"{span.Days}d" : null,
            span.Hours > 0 ? $"{span.Hours}h" : null,
            span.Minutes > 0 ? $"{span.Minutes}m" : null,
        }.OfType<string>().ToList();
        return parts.Count == 0 ? $"{span.Seconds}s" : string.Concat(parts);
    }

    /// <summary>"debian-12:3 (sha256 0123456789ab…)", or the bare name for a lease made before the catalogue.</summary>
    public static string ImageName(Lease l) => l.ImageRef is { } image
        ? $"{image.Name}:{image.Version} (sha256 {(image.Sha256.Length > 12 ? image.Sha256[..12] + "…" : image.Sha256)})"
        : l.Image;

    /// <summary>"root + 2 data disks (20 GiB, 5 GiB); limited to 500 IOPS; 3.2 GiB allocated, 120 MiB used on the host".</summary>
    private static string Disks(Lease l)
    {
        var parts = new List<string>
        {
            l.DataDiskBytes.Count == 0 ? "root only" : $"root + {l.DataDiskBytes.Count} data disk{(l.DataDiskBytes.Count == 1 ? string.Empty : "s")} ({string.Join(", ", l.DataDiskBytes.Select(Units.Bytes))})",
        };
        if (l.DiskLimits is { } limits && (limits.TotalIops > 0 || limits.TotalBytesPerSecond > 0))
        {
            parts.Add("each limited to " + string.Join(" and ", new[]
            {
                limits.TotalIops > 0 ? $"{limits.TotalIops} IOPS" : null,
                limits.TotalBytesPerSecond > 0 ? $"{Units.Bytes(limits.TotalBytesPerSecond)}/s" : null,
            }.OfType<string>()));
        }

        if (l.DiskAllocatedBytes > 0)
        {
            parts.Add($"{Units.Bytes(l.DiskAllocatedBytes)} allocated, {Units.Bytes(l.DiskUsedBytes)} used on the host");
        }

        return string.Join("; ", parts);
    }

    /// <summary>"CPU weight 512, each vCPU at most 50 % of a host CPU, memory at most 2.5 GiB, each NIC 10 MiB/s in".</summary>
    private static string Limits(Lease l)
    {
        if (l.Limits is not { } limits)
        {
            return "the host's defaults";
        }

        var parts = new[]
        {
            limits.CpuWeight > 0 ? $"CPU weight {limits.CpuWeight}" : null,
            limits.CpuCapPercent > 0 ? $"each vCPU at most {limits.CpuCapPercent} % of a host CPU" : null,
            limits.MemoryHardLimitBytes > 0 ? $"memory at most {Units.Bytes(limits.MemoryHardLimitBytes)}" : null,
            limits.NicInboundBytesPerSecond > 0 ? $"each NIC {Units.Bytes(limits.NicInboundBytesPerSecond)}/s in" : null,
            limits.NicOutboundBytesPerSecond > 0 ? $"each NIC {Units.Bytes(limits.NicOutboundBytesPerSecond)}/s out" : null,
        }.OfType<string>().ToList();
        return parts.Count == 0 ? "the host's defaults" : string.Join(", ", parts);
    }

    /// <summary>"architecture aarch64, features gpu, labels rack=r1, anti-affinity group db, spread group web".</summary>
    private static string Placement(Lease l)
    {
        if (l.Placement is not { } p)
        {
            return "anywhere";
        }

        var parts = new[]
        {
            p.Architecture.Length > 0 ? $"architecture {p.Architecture}" : null,
            p.RequiredFeatures.Count > 0 ? "features " + string.Join(", ", p.RequiredFeatures) : null,
            p.RequiredLabels.Count > 0 ? "labels " + string.Join(", ", p.RequiredLabels.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => $"{x.Key}={x.Value}")) : null,
            p.AntiAffinityGroup.Length > 0 ? $"anti-affinity group {p.AntiAffinityGroup}" : null,
            p.SpreadGroup.Length > 0 ? $"spread group {p.SpreadGroup}" : null,
        }.OfType<string>().ToList();
        return parts.Count == 0 ? "anywhere" : string.Join(", ", parts);
    }

    /// <summary>The latest save and how it went.</summary>
    private static string Save(Lease l) => l.Save switch
    {
        null => "-",
        { State: SaveState.Saving } s => $"saving as {s.ImageName} (asked {s.RequestedAt.ToDateTimeOffset():u})",
        { State: SaveState.Saved } s => $"saved as {s.ImageName}:{s.ImageVersion}",
        var s => $"saving as {s.ImageName} failed: {s.Reason}",
    };

    /// <summary>One line per NIC: "default 10.77.0.10/24, MAC 52:54:00:…, gateway 10.77.0.1, DNS 10.77.0.1".</summary>
    private static string Networks(Lease l)
    {
        if (l.Networks.Count == 0)
        {
            return "Network:   -";
        }

        var lines = l.Networks.Select((n, i) => (i == 0 ? "Network:   " : "           ") + $"{n.Network} {n.Address}/{n.PrefixLength}, MAC {n.Mac}" +
            (n.Gateway.Length == 0 ? string.Empty : $", gateway {n.Gateway}") +
            (n.DnsServers.Count == 0 ? string.Empty : $", DNS {string.Join(' ', n.DnsServers)}") +
            (l.State is LeaseState.Ended or LeaseState.Failed ? " (released)" : string.Empty));
        return string.Join('\n', lines);
    }

    /// <summary>"2: ssh-ed25519 alice@laptop, ssh-rsa (no comment)", without the key data.</summary>
    private static string Keys(Lease l) => l.SshKeys.Count == 0
        ? "none (pass --ssh-key FILE to `ws lease`)"
        : $"{l.SshKeys.Count}: " + string.Join(", ", l.SshKeys.Select(k => k.Split(' ', 3) is var parts && parts.Length == 3 ? $"{parts[0]} {parts[2]}" : parts[0]));

    /// <summary>The command that reaches a placed workspace over its first NIC, and what to mind.</summary>
    private static string Ssh(Lease l, string? user)
    {
        if (l.Networks.Count == 0 || !Placed(l))
        {
            return "SSH:       -";
        }

        var address = l.Networks[0].Address;
        return user is null
            ? $"SSH:       ssh {address}   (logs in as your local user; the image's default user may differ: add --ssh-user NAME)"
            : $"SSH:       ssh {user}@{address}";
    }

    private static string Until(TimeSpan left) => left <= TimeSpan.Zero ? "expired"
        : left.TotalHours >= 48 ? $"in {left.TotalDays:0}d"
        : left.TotalMinutes >= 90 ? $"in {left.TotalHours:0}h"
        : $"in {Math.Ceiling(left.TotalMinutes):0}m";
}
