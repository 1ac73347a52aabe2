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
        var table = new Table("LEASE", "STATE", "POWER", "HOST", "IMAGE", "VCPUS", "MEMORY", "EXPIRES");
        var now = DateTimeOffset.UtcNow;
        foreach (var l in leases)
        {
            table.Add(l.Id, StateName(l.State), Placed(l) ? PowerName(Power(l)) : "-", l.HostId.Length == 0 ? "-" : l.HostId, l.Image,
                l.Resources.Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture), Units.Bytes(l.Resources.MemoryBytes),
                l.State is LeaseState.Ended or LeaseState.Failed ? "-" : Until(l.ExpiresAt.ToDateTimeOffset() - now));
        }

        return table.ToString();
    }

    public static string Render(Lease l) => $"""
        Lease:     {l.Id}
        State:     {StateName(l.State)} — {l.StateReason}
        Power:     {(Placed(l) ? PowerName(Power(l)) + " (as its owner asked)" : "-")}
        Reboots:   {l.RebootsRequested} asked for, {l.RebootsDone} carried out
        Host:      {(l.HostId.Length == 0 ? "-" : l.HostId)}
        Owner:     {l.Owner}
        Image:     {l.Image}
        Resources: {l.Resources.Vcpus} vCPUs, {Units.Bytes(l.Resources.MemoryBytes)} memory, {(l.Resources.DiskBytes == 0 ? "image-sized" : Units.Bytes(l.Resources.DiskBytes))} disk
        Created:   {l.CreatedAt.ToDateTimeOffset():u}
        Expires:   {l.ExpiresAt.ToDateTimeOffset():u}{(l.State is LeaseState.Ended or LeaseState.Failed ? string.Empty : $" ({Until(l.ExpiresAt.ToDateTimeOffset() - DateTimeOffset.UtcNow)})")}

        """;

    private static string Until(TimeSpan left) => left <= TimeSpan.Zero ? "expired"
        : left.TotalHours >= 48 ? $"in {left.TotalDays:0}d"
        : left.TotalMinutes >= 90 ? $"in {left.TotalHours:0}h"
        : $"in {Math.Ceiling(left.TotalMinutes):0}m";
}
