using System.Globalization;

namespace NodeAgent.Agent.HostFacts;

/// <summary>An amount of CPUs and memory: a host's as measured, or what it offers to workspaces.</summary>
public readonly record struct HostSize(int Vcpus, long MemoryBytes);

/// <summary>
/// Turns the host's raw size into the capacity the agent offers to the scheduler: what is reserved for the
/// host itself (the OS, libvirtd, QEMU's own overhead, this agent) is taken off, and the rest is multiplied by
/// the overcommit ratio and rounded down. The single source of truth for "how much may be placed here".
/// </summary>
/// <param name="ReservedVcpus">Host CPUs not offered to workspaces.</param>
/// <param name="ReservedMemoryBytes">Memory not offered to workspaces; null for <see cref="DefaultReservedMemory"/>.</param>
/// <param name="CpuOvercommit">vCPUs offered per host CPU left after the reservation.</param>
/// <param name="MemoryOvercommit">Bytes offered per byte left after the reservation.</param>
public sealed record CapacityPolicy(int ReservedVcpus, long? ReservedMemoryBytes, double CpuOvercommit, double MemoryOvercommit)
{
    /// <summary>
    /// 4 vCPUs per host CPU: OpenStack Nova's initial ratio since its 2023.1 release (16 before). Workspaces
    /// are mostly interactive and idle much of the time, and placement already steers new work to the hosts
    /// whose CPUs are measured idle. Hosts running CPU-bound batch work should set 1.
    /// </summary>
    public const double DefaultCpuOvercommit = 4.0;

    /// <summary>
    /// None: guest memory is neither ballooned nor shared here, so memory promised twice ends with the
    /// kernel's OOM killer stopping some guest's QEMU.
    /// </summary>
    public const double DefaultMemoryOvercommit = 1.0;

    /// <summary>Nova's reserved_host_memory_mb default: room for the OS, libvirtd, QEMU's per-guest overhead and this agent.</summary>
    public const long DefaultReservedMemoryCap = 512L << 20;

    public const double MaxOvercommit = 64.0;

    public static CapacityPolicy Default { get; } = new(0, null, DefaultCpuOvercommit, DefaultMemoryOvercommit);

    /// <summary>512 MiB, or a quarter of the host's memory when that is less, so a small host still offers most of it.</summary>
    public static long DefaultReservedMemory(long hostMemoryBytes) => Math.Min(DefaultReservedMemoryCap, hostMemoryBytes / 4);

    /// <summary>The memory kept for the host on a host of this size.</summary>
    public long ReservedMemory(long hostMemoryBytes) => ReservedMemoryBytes ?? DefaultReservedMemory(hostMemoryBytes);

    /// <summary>(raw − reserved) × ratio, rounded down, for CPUs and memory; never negative.</summary>
    public HostSize Offer(HostSize host)
    {
        var vcpus = Scale(Math.Max(0, host.Vcpus - ReservedVcpus), CpuOvercommit);
        var memory = Scale(Math.Max(0, host.MemoryBytes - ReservedMemory(host.MemoryBytes)), MemoryOvercommit);
        return new HostSize((int)Math.Min(vcpus, int.MaxValue), memory);
    }

    /// <summary>
    /// Every problem with these settings at once, each naming the option and the fix. Without the host's size
    /// only the ratios and signs are checked; with it, also that the reservation leaves something to offer.
    /// </summary>
    public IEnumerable<string> Problems(HostSize? host)
    {
        foreach (var (name, ratio) in new[] { ("cpu-overcommit", CpuOvercommit), ("memory-overcommit", MemoryOvercommit) })
        {
            if (!(ratio > 0 && ratio <= MaxOvercommit))
            {
                yield return $"{name}: {ratio.ToString(CultureInfo.InvariantCulture)} is out of range; give a ratio above 0 and at most {MaxOvercommit} (1 offers exactly what the host has, 2 offers twice that)";
            }
        }

        if (ReservedVcpus < 0)
        {
            yield return $"reserved-vcpus: {ReservedVcpus} is negative; give 0 or more host CPUs to keep for the host";
        }

        if (ReservedMemoryBytes < 0)
        {
            yield return $"reserved-memory: {ReservedMemoryBytes} bytes is negative; give 0 or more, e.g. 512M";
        }

        if (host is not { } size)
        {
            yield break;
        }

        if (ReservedVcpus >= size.Vcpus)
        {
            yield return $"reserved-vcpus: {ReservedVcpus} leaves none of this host's {size.Vcpus} CPUs for workspaces; reserve at most {size.Vcpus - 1}";
        }
        else if (ReservedVcpus >= 0 && CpuOvercommit > 0 && Offer(size).Vcpus == 0)
        {
            yield return $"cpu-overcommit: ({size.Vcpus} CPUs − {ReservedVcpus} reserved) × {CpuOvercommit.ToString(CultureInfo.InvariantCulture)} rounds down to no vCPUs to offer; raise --cpu-overcommit or lower --reserved-vcpus";
        }

        if (ReservedMemoryBytes >= size.MemoryBytes)
        {
            yield return $"reserved-memory: {FormatSize(ReservedMemoryBytes.Value)} leaves none of this host's {FormatSize(size.MemoryBytes)} for workspaces; reserve less, e.g. {FormatSize(DefaultReservedMemory(size.MemoryBytes))}";
        }
    }

    /// <summary>For the agent's start-up line, so an operator sees what the host offers and why.</summary>
    public string Describe(HostSize host)
    {
        var offer = Offer(host);
        return string.Create(CultureInfo.InvariantCulture,
            $"offering {offer.Vcpus} vCPUs and {FormatSize(offer.MemoryBytes)} to workspaces: host {host.Vcpus} CPUs and {FormatSize(host.MemoryBytes)}, "
            + $"reserved {ReservedVcpus} CPUs and {FormatSize(ReservedMemory(host.MemoryBytes))}, overcommit CPU ×{CpuOvercommit}, memory ×{MemoryOvercommit}");
    }

    /// <summary>Reads a size as people write it: 512M, 2G, 1.5T, 0 (binary units; a bare number is bytes).</summary>
    /// <exception cref="FormatException">The text is not a size; the message names the option and an example.</exception>
    public static long ParseSize(string text, string option)
    {
        var trimmed = text.Trim();
        var digits = 0;
        while (digits < trimmed.Length && (char.IsAsciiDigit(trimmed[digits]) || trimmed[digits] == '.'))
        {
            digits++;
        }

        var shift = trimmed[digits..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0 || !double.TryParse(trimmed.AsSpan(0, digits), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || value * Math.Pow(2, shift) > 1e18)
        {
            throw new FormatException($"{option} '{text}' is not a size; write e.g. 512M, 2G or 1.5T");
        }

        return (long)(value * Math.Pow(2, shift));
    }

    internal static string FormatSize(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB"),
    };

    // In decimal, so that e.g. 100 × 0.29 is 29 and not the 28.999… binary floating point gives before rounding down.
    private static long Scale(long amount, double ratio) =>
        ratio is > 0 and <= MaxOvercommit ? (long)decimal.Floor(amount * (decimal)ratio) : 0;
}
