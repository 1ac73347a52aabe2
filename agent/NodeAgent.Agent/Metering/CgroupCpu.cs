using System.Globalization;

namespace NodeAgent.Agent.Metering;

/// <summary>
/// CPU time of a domain's cgroup, which holds its vCPU threads and QEMU's own (emulator, I/O) threads. Found from the
/// QEMU pid libvirt writes to <c>PIDS/DOMAIN.pid</c>: <c>PROC/PID/cgroup</c> names the process's cgroup, which is the
/// domain's <c>emulator</c> child; the domain's cgroup is its parent. cgroup v1 reads <c>cpuacct.usage</c> (ns) under
/// the cpuacct controller's mount; v2 reads <c>usage_usec</c> from <c>cpu.stat</c>, under the root on a pure v2 host
/// and under <c>unified</c> on a hybrid one. Where cpu and cpuacct are separate v1 mounts libvirt may leave QEMU in
/// the cpuacct root (<c>2:cpuacct:/</c>): that is the whole host's CPU, never the domain's, so a root path is skipped
/// and the v2 tree answers. The roots are injectable so tests read cgroupfs-shaped directories.
/// </summary>
public sealed class CgroupCpu(string cgroupRoot = "/sys/fs/cgroup", string pidDirectory = "/run/libvirt/qemu", string procRoot = "/proc")
{
    /// <summary>The domain's QEMU pid and its cgroup's CPU seconds, or null when either cannot be read (not running, not QEMU, no cgroup).</summary>
    public CgroupCpuReading? Read(string domainName)
    {
        if (!TryReadText(Path.Combine(pidDirectory, domainName + ".pid"), out var pidText)
            || !int.TryParse(pidText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0
            || !TryReadText(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "cgroup"), out var cgroups))
        {
            return null;
        }

        return CpuSeconds(cgroups) is { } seconds ? new CgroupCpuReading(pid, seconds) : null;
    }

    /// <summary>The CPU seconds of the domain cgroup that a <c>/proc/PID/cgroup</c> text places the process in (v1 cpuacct first, else v2).</summary>
    public double? CpuSeconds(string procCgroupText)
    {
        ArgumentNullException.ThrowIfNull(procCgroupText);
        string? unified = null;
        foreach (var line in procCgroupText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3)
            {
                continue;
            }

            if (parts[0] == "0" && parts[1].Length == 0)
            {
                unified = parts[2];
            }
            else if (parts[1].Split(',').Contains("cpuacct") && DomainCgroup(parts[2]) is { Length: > 0 } domain)
            {
                foreach (var mount in new[] { parts[1], "cpuacct", "cpu,cpuacct" })
                {
                    if (TryReadText(Path.Combine(cgroupRoot, mount, domain, "cpuacct.usage"), out var usage)
                        && ulong.TryParse(usage.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var ns))
                    {
                        return ns / 1e9;
                    }
                }
            }
        }

        if (unified is not null && DomainCgroup(unified) is { Length: > 0 } relative
            && (TryReadText(Path.Combine(cgroupRoot, "unified", relative, "cpu.stat"), out var stat)
                || TryReadText(Path.Combine(cgroupRoot, relative, "cpu.stat"), out stat)))
        {
            foreach (var line in stat.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 2 && fields[0] == "usage_usec"
                    && ulong.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var usec))
                {
                    return usec / 1e6;
                }
            }
        }

        return null;
    }

    /// <summary>The domain's cgroup, relative: the parent of the <c>emulator</c> child QEMU's main thread sits in.</summary>
    public static string DomainCgroup(string processCgroup)
    {
        ArgumentNullException.ThrowIfNull(processCgroup);
        var path = processCgroup.TrimEnd('/');
        if (path.EndsWith("/emulator", StringComparison.Ordinal))
        {
            path = path[..^"/emulator".Length];
        }

        return path.TrimStart('/');
    }

    private static bool TryReadText(string path, out string text)
    {
        try
        {
            text = File.ReadAllText(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            text = string.Empty;
            return false;
        }
    }
}

/// <summary>A domain's QEMU pid and the CPU seconds its cgroup has used.</summary>
public sealed record CgroupCpuReading(int Pid, double CpuSeconds);
