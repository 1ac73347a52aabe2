using System.Runtime.InteropServices;
using NodeAgent.Contract;

namespace NodeAgent.Agent.HostFacts;

/// <summary>What the host is and has, as measured; what it offers to workspaces is <see cref="CapacityPolicy.Offer"/> of this.</summary>
public sealed record HostDescription(HostId Id, string Hostname, string Architecture, string DomainType, int Vcpus, long MemoryBytes, long DiskBytes);

/// <summary>
/// Measures the host: capacity once at start, load at every heartbeat. CPU utilization is the busy share
/// of CPU time between two samples, so the first sample after start reports 0.
/// </summary>
public sealed class HostProbe(ProcFileSystem proc)
{
    private readonly Lock _lock = new();
    private (ulong Busy, ulong Total)? _lastCpu;

    /// <summary>The host's facts; the domain type comes from the hypervisor's capabilities, not from guessing.</summary>
    public HostDescription Describe(HostId id, string stateDirectory, string domainType)
    {
        var size = Size();
        return new(id, Environment.MachineName, Architecture(), domainType, size.Vcpus, size.MemoryBytes, DiskBytes(stateDirectory));
    }

    /// <summary>The host's raw CPUs and memory, before any reservation or overcommit.</summary>
    public HostSize Size() => new(Environment.ProcessorCount, proc.MemInfoBytes("MemTotal"));

    public (double CpuUtilization, long MemoryAvailableBytes, double LoadAverage1m) SampleLoad()
    {
        var now = proc.CpuTimes();
        double utilization;
        lock (_lock)
        {
            utilization = _lastCpu is { } last && now.Total > last.Total
                ? Math.Clamp((double)(now.Busy - last.Busy) / (now.Total - last.Total), 0, 1)
                : 0;
            _lastCpu = now;
        }

        return (utilization, proc.MemInfoBytes("MemAvailable"), proc.LoadAverage1m());
    }

    private static long DiskBytes(string directory)
    {
        var existing = directory;
        while (!Directory.Exists(existing))
        {
            existing = Path.GetDirectoryName(existing) ?? "/";
        }

        return new DriveInfo(existing).TotalSize;
    }

    private static string Architecture() => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "x86_64",
        System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
        var other => other.ToString().ToLowerInvariant(),
    };
}
