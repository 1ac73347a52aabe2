using NodeAgent.Rpc;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// Collects every problem of one request, then rejects it with INVALID_ARGUMENT naming each field.
/// Nothing that fails here reaches the store, a log line unescaped, or an agent.
/// </summary>
internal sealed class RequestValidator(string method)
{
    public const int MaxTextLength = 253;

    /// <summary>The longest explanation an agent may report (why a workspace failed, why a save did): long enough for the cause and the fix.</summary>
    public const int MaxReportLength = 2000;
    public const int MaxLabels = 64;
    public const int MaxFeatures = 64;
    public const int MaxNetworks = 64;

    private readonly List<string> _problems = [];

    public HostId HostId(string field, string value)
    {
        if (NodeAgent.Contract.HostId.TryParse(value, out var id, out var problem))
        {
            return id;
        }

        _problems.Add($"{field} {problem}");
        return default;
    }

    public Domain.LeaseId LeaseId(string field, string value)
    {
        if (Domain.LeaseId.TryParse(value, out var id, out var problem))
        {
            return id;
        }

        _problems.Add($"{field} {problem}");
        return default;
    }

    /// <summary>A power action; UNSPECIFIED and values this scheduler does not know are refused, naming the allowed ones.</summary>
    public PowerAction PowerAction(string field, Contract.V1.PowerAction value)
    {
        switch (value)
        {
            case Contract.V1.PowerAction.Start: return Domain.PowerAction.Start;
            case Contract.V1.PowerAction.Stop: return Domain.PowerAction.Stop;
            case Contract.V1.PowerAction.Reboot: return Domain.PowerAction.Reboot;
            case Contract.V1.PowerAction.Pause: return Domain.PowerAction.Pause;
            case Contract.V1.PowerAction.Resume: return Domain.PowerAction.Resume;
            default:
                var name = Enum.IsDefined(value) ? "POWER_ACTION_UNSPECIFIED" : ((int)value).ToString(System.Globalization.CultureInfo.InvariantCulture);
                _problems.Add($"{field} is {name}; it must be one of POWER_ACTION_START, POWER_ACTION_STOP, POWER_ACTION_REBOOT, POWER_ACTION_PAUSE, POWER_ACTION_RESUME");
                return default;
        }
    }

    /// <summary>An admin action on a host; UNSPECIFIED and values this scheduler does not know are refused, naming the allowed ones.</summary>
    public HostAdminAction HostAdminAction(string field, Contract.V1.HostAdminAction value)
    {
        switch (value)
        {
            case Contract.V1.HostAdminAction.Enable: return Domain.HostAdminAction.Enable;
            case Contract.V1.HostAdminAction.Disable: return Domain.HostAdminAction.Disable;
            case Contract.V1.HostAdminAction.Drain: return Domain.HostAdminAction.Drain;
            default:
                var name = Enum.IsDefined(value) ? "HOST_ADMIN_ACTION_UNSPECIFIED" : ((int)value).ToString(System.Globalization.CultureInfo.InvariantCulture);
                _problems.Add($"{field} is {name}; it must be one of HOST_ADMIN_ACTION_ENABLE, HOST_ADMIN_ACTION_DISABLE, HOST_ADMIN_ACTION_DRAIN");
                return default;
        }
    }

    /// <summary>A point in time after <paramref name="now"/> and at most <paramref name="max"/> later; null (with the problem noted) otherwise.</summary>
    public DateTimeOffset? Deadline(string field, Google.Protobuf.WellKnownTypes.Timestamp? value, DateTimeOffset now, TimeSpan max)
    {
        if (value is null)
        {
            _problems.Add($"{field} is missing; give the time by which the host must be empty, at most {Human(max)} ahead");
            return null;
        }

        // Compared in seconds first: Timestamp.ToDateTimeOffset throws on values outside DateTimeOffset's range.
        var latest = now + max;
        if (value.Nanos is < 0 or > 999_999_999 || value.Seconds <= now.ToUnixTimeSeconds() - 1 || value.Seconds > latest.ToUnixTimeSeconds() ||
            value.ToDateTimeOffset() is var at && (at <= now || at > latest))
        {
            _problems.Add($"{field} is {Describe(value)}; it must be after now ({now:u}) and at most {Human(max)} ahead (by {latest:u})");
            return null;
        }

        return at;
    }

    private static string Describe(Google.Protobuf.WellKnownTypes.Timestamp value) =>
        value.Seconds is >= -62_135_596_800 and <= 253_402_300_799 && value.Nanos is >= 0 and <= 999_999_999
            ? value.ToDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture)
            : $"{value.Seconds}s since the Unix epoch";

    public TimeSpan Duration(string field, Google.Protobuf.WellKnownTypes.Duration? value, TimeSpan min, TimeSpan max)
    {
        if (value is null)
        {
            _problems.Add($"{field} is missing");
            return min;
        }

        // Checked by hand: Duration.ToTimeSpan throws on values outside TimeSpan's range.
        if (value.Seconds < 0 || value.Nanos < 0 || value.Seconds > (long)max.TotalSeconds ||
            TimeSpan.FromSeconds(value.Seconds) + TimeSpan.FromTicks(value.Nanos / 100) is var span && (span < min || span > max))
        {
            _problems.Add($"{field} is {value.Seconds}s; it must be between {Human(min)} and {Human(max)}");
            return min;
        }

        return span;
    }

    private static string Human(TimeSpan span) => span.TotalDays >= 1 ? $"{span.TotalDays:0} days" : span.TotalHours >= 1 ? $"{span.TotalHours:0} hours" : $"{span.TotalMinutes:0} minutes";

    public string Text(string field, string value, bool required = true, int maxLength = MaxTextLength)
    {
        if (required && value.Length == 0)
        {
            _problems.Add($"{field} is empty");
        }
        else if (value.Length > maxLength)
        {
            _problems.Add($"{field} is {value.Length} characters long; at most {maxLength} are allowed");
        }
        else if (value.Any(c => char.IsControl(c)))
        {
            _problems.Add($"{field} '{IdSyntax.Printable(value)}' contains control characters");
        }

        return value;
    }

    public string Name(string field, string value)
    {
        if (!IdSyntax.IsValid(value, out var problem))
        {
            _problems.Add($"{field} {problem}");
        }

        return value;
    }

    /// <summary>A network name (it becomes part of interface names and nftables identifiers on hosts).</summary>
    public string NetworkName(string field, string value)
    {
        if (!NetworkSyntax.IsValidName(value, out var problem))
        {
            _problems.Add($"{field} {problem}");
        }

        return value;
    }

    /// <summary>OpenSSH public keys: at most <see cref="SshKeySyntax.MaxKeys"/>, each one valid line; duplicates are dropped.</summary>
    public IReadOnlyList<string> SshKeys(string field, IReadOnlyList<string> keys)
    {
        if (keys.Count > SshKeySyntax.MaxKeys)
        {
            _problems.Add($"{field} has {keys.Count} keys; at most {SshKeySyntax.MaxKeys} are allowed");
            return [];
        }

        for (var i = 0; i < keys.Count; i++)
        {
            if (!SshKeySyntax.IsValid(keys[i], out var problem))
            {
                _problems.Add($"{field}[{i}] {problem}");
            }
        }

        return keys.Distinct(StringComparer.Ordinal).ToList();
    }

    public long Range(string field, ulong value, ulong min, ulong max)
    {
        if (value < min || value > max)
        {
            _problems.Add($"{field} is {value}; it must be between {min} and {max}");
            return (long)Math.Min(value, max);
        }

        return (long)value;
    }

    public double Fraction(string field, double value)
    {
        if (!double.IsFinite(value) || value < 0 || value > 1)
        {
            _problems.Add($"{field} is {value}; it must be between 0 and 1");
            return 0;
        }

        return value;
    }

    public double NonNegative(string field, double value)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            _problems.Add($"{field} is {value}; it must be a finite number of at least 0");
            return 0;
        }

        return value;
    }

    public void Count(string field, int count, int max)
    {
        if (count > max)
        {
            _problems.Add($"{field} has {count} entries; at most {max} are allowed");
        }
    }

    public void Require(bool condition, string problem)
    {
        if (!condition)
        {
            _problems.Add(problem);
        }
    }

    /// <summary>Throws INVALID_ARGUMENT listing every problem found, if any.</summary>
    /// <summary>How many problems an INVALID_ARGUMENT answer names; the rest are counted.</summary>
    public const int MaxProblemsShown = 10;

    public void ThrowIfInvalid()
    {
        if (_problems.Count > 0)
        {
            // A batch with a problem in every record would make a message no client can read: the first ones say enough.
            var shown = _problems.Take(MaxProblemsShown);
            var more = _problems.Count > MaxProblemsShown ? $"; and {_problems.Count - MaxProblemsShown} more problems" : string.Empty;
            throw new RpcException(StatusCode.InvalidArgument, $"{method}: " + string.Join("; ", shown) + more);
        }
    }
}
