using System.Security.Cryptography;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// A lease's id, which also names its workspace on the host: "w-", eight characters of its creation time and seven
/// random ones, all base 32, e.g. <c>w-8cqz9ke2xm4rtb7</c> (made on 2026-11-24).
/// </summary>
/// <remarks>
/// The time part is the milliseconds since 2020-01-01 UTC in an alphabet in ASCII order, so ids sort by when they
/// were made (to the millisecond). A new lease's id then lands beside the last ones in the store's primary-key index
/// rather than on a random page of it: with 100,000 live leases, random ids made the single SQLite writer read 0.79
/// pages back per placement, against 0.26 now, and write more of them to the WAL (docs/scale.md). Two ids can be the same only if made in the same millisecond
/// with the same 35 random bits. Eight characters hold 2⁴⁰ ms, until 2054-11; after that the time part starts again
/// from 0, and ids made then sort before older ones but are still unique.
/// </remarks>
public readonly record struct LeaseId
{
    /// <summary>The 32 characters ids are made of (no l, o, 0 or 1, which read alike), in ASCII order.</summary>
    private const string Alphabet = "23456789abcdefghijkmnpqrstuvwxyz";

    private const int TimeChars = 8;
    private const int RandomChars = 7;

    /// <summary>Where the time part counts from.</summary>
    public static readonly DateTimeOffset Epoch = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private LeaseId(string value) => Value = value;

    public string Value { get; }

    /// <summary>Random bytes drawn ahead, per thread: one system call for every 35 ids rather than one for each.</summary>
    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_left;

    /// <summary>A new id for a lease created at <paramref name="createdAt"/> (the caller's clock).</summary>
    public static LeaseId New(DateTimeOffset createdAt) => new("w-" + Part(createdAt));

    /// <summary>The id's characters after its prefix: the time part, then the random part.</summary>
    internal static string Part(DateTimeOffset createdAt)
    {
        var milliseconds = (ulong)(createdAt - Epoch).Ticks / TimeSpan.TicksPerMillisecond;
        Span<char> chars = stackalloc char[TimeChars + RandomChars];
        for (var i = 0; i < TimeChars; i++)
        {
            chars[i] = Alphabet[(int)(milliseconds >> (5 * (TimeChars - 1 - i))) & (Alphabet.Length - 1)];
        }

        // Each byte's low five bits pick a character, without bias (256 is a multiple of 32).
        var random = Take(RandomChars);
        for (var i = 0; i < RandomChars; i++)
        {
            chars[TimeChars + i] = Alphabet[random[i] & (Alphabet.Length - 1)];
        }

        return new string(chars);
    }

    private static ReadOnlySpan<byte> Take(int count)
    {
        var random = t_random ??= new byte[245];
        if (t_left < count)
        {
            RandomNumberGenerator.Fill(random);
            t_left = random.Length;
        }

        var taken = random.AsSpan(random.Length - t_left, count);
        t_left -= count;
        return taken;
    }

    public static bool TryParse(string? text, out LeaseId id, out string problem)
    {
        id = default;
        if (!IdSyntax.IsValid(text, out problem))
        {
            return false;
        }

        id = new LeaseId(text!);
        return true;
    }

    public static LeaseId Parse(string text) =>
        TryParse(text, out var id, out var problem) ? id : throw new FormatException($"lease id {problem}");

    public override string ToString() => Value;
}

/// <summary>Where a lease is in its life. <see cref="LeaseStateMachine"/> says which moves are allowed.</summary>
public enum LeaseState
{
    Pending,
    Placing,
    Starting,
    Running,
    Stopping,
    Ended,
    Failed,

    /// <summary>Placed, its workspace shut down at its owner's request; it keeps its host's capacity.</summary>
    Stopped,

    /// <summary>Placed, its workspace's vCPUs suspended at its owner's request; memory is kept.</summary>
    Paused,
}

/// <summary>The power state a lease's owner wants its workspace in.</summary>
public enum PowerState
{
    Running,
    Stopped,
    Paused,
}

/// <summary>What an owner can ask of a lease's workspace; <see cref="LeasePower"/> says when each is allowed.</summary>
public enum PowerAction
{
    Start,
    Stop,
    Reboot,
    Pause,
    Resume,
}

/// <summary>
/// What a user asks for when leasing a workspace. <see cref="Network"/> null means the scheduler's default
/// network (or no NIC, when it has none); the SSH keys are already validated.
/// </summary>
public sealed record LeaseRequest(string Owner, string Image, Resources Resources, TimeSpan Duration, string? RequestId)
{
    /// <summary>The project the lease counts in; empty means the owner's name (a caller without a project).</summary>
    public string Project { get; init; } = string.Empty;

    public string? Network { get; init; }

    public ValueList<string> SshKeys { get; init; } = [];

    /// <summary>The catalogue version of <see cref="Image"/>; 0 for the newest active one.</summary>
    public uint ImageVersion { get; init; }

    /// <summary>Blank data disks, by size.</summary>
    public ValueList<long> DataDiskBytes { get; init; } = [];

    public DiskLimits DiskLimits { get; init; } = DiskLimits.None;

    /// <summary>CPU weight and cap, hard memory limit, NIC bandwidth, already checked; null for the host's defaults.</summary>
    public Contract.V1.WorkspaceLimits? Limits { get; init; }

    /// <summary>Which hosts may take it and what it is placed next to, already checked; null for none.</summary>
    public Contract.V1.PlacementConstraints? Placement { get; init; }

    /// <summary>Only decide where it would go; store nothing.</summary>
    public bool DryRun { get; init; }

    public LeaseKind Kind { get; init; } = LeaseKind.Immediate;

    /// <summary>A reservation's start (its window is [Start, Start + Duration)); null for other kinds.</summary>
    public DateTimeOffset? Start { get; init; }

    /// <summary>How long a best-effort lease may wait for a host before it gives up.</summary>
    public TimeSpan QueueLimit { get; init; } = LeaseKinds.DefaultQueueLimit;
}

/// <summary>
/// A lease of one workspace, as the scheduler stores it. <see cref="Power"/> is the power state its owner wants
/// (the state follows when the host confirms); <see cref="RebootsRequested"/> counts reboots asked for over the
/// lease's life and <see cref="RebootsDone"/> those its host has reported carried out.
/// </summary>
public sealed record Lease(
    LeaseId Id,
    string Owner,
    string Image,
    Resources Resources,
    LeaseState State,
    string Reason,
    HostId? Host,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset UpdatedAt,
    string? RequestId,
    PowerState Power = PowerState.Running,
    long RebootsRequested = 0,
    long RebootsDone = 0)
{
    /// <summary>The workspace's NICs, assigned at placement; empty when the scheduler has no networks.</summary>
    public ValueList<NetworkAttachment> Networks { get; init; } = [];

    /// <summary>The OpenSSH public keys the guest authorizes.</summary>
    public ValueList<string> SshKeys { get; init; } = [];

    /// <summary>
    /// The image version the lease was made with, as the catalogue resolved it (digest, source, outside kernel);
    /// null for a lease stored before the catalogue existed. Never changed after creation.
    /// </summary>
    public Contract.V1.ImageRef? ImageRef { get; init; }

    /// <summary>Blank data disks, by size.</summary>
    public ValueList<long> DataDiskBytes { get; init; } = [];

    public DiskLimits DiskLimits { get; init; } = DiskLimits.None;

    /// <summary>As its host last reported.</summary>
    public DiskUsage Disk { get; init; } = DiskUsage.Unknown;

    /// <summary>The latest save asked for; null when none was.</summary>
    public LeaseSave? Save { get; init; }

    /// <summary>CPU weight and cap, hard memory limit, NIC bandwidth (the wire message, never changed after creation); null for the host's defaults.</summary>
    public Contract.V1.WorkspaceLimits? Limits { get; init; }

    /// <summary>Which hosts may take it and what it is placed next to (the wire message, never changed after creation); null for none.</summary>
    public Contract.V1.PlacementConstraints? Placement { get; init; }

    /// <summary>What the lease's disks claim of its host: the root disk and every data disk.</summary>
    public long ClaimedDiskBytes => Resources.DiskBytes + DataDiskBytes.Sum();

    /// <summary>What the lease claims of its host: its vCPUs and memory, and its disks (<see cref="ClaimedDiskBytes"/>).</summary>
    public Resources Claim => Resources with { DiskBytes = ClaimedDiskBytes };

    public LeaseKind Kind { get; init; } = LeaseKind.Immediate;

    /// <summary>A reservation's start: its window is [StartAt, ExpiresAt). Null for other kinds.</summary>
    public DateTimeOffset? StartAt { get; init; }

    /// <summary>When a best-effort lease joined its project's queue; null for other kinds. The store keeps its arrival order beside it.</summary>
    public DateTimeOffset? QueuedAt { get; init; }

    /// <summary>
    /// How long the workspace runs once placed. A queued best-effort lease's <see cref="ExpiresAt"/> is when it gives
    /// up waiting; placing it sets ExpiresAt to the placement time plus this.
    /// </summary>
    public TimeSpan RunFor { get; init; }

    /// <summary>The network the workspace joins once placed, resolved when the lease was made; null for none.</summary>
    public string? WantedNetwork { get; init; }

    /// <summary>The hosts whose agents refused the workspace (it did not fit what they had): it is never placed on them again.</summary>
    public ValueList<string> RefusedBy { get; init; } = [];

    /// <summary>A queued lease's place in its project's queue (1: next), computed when read and never stored; 0 otherwise.</summary>
    public int QueuePosition { get; init; }

    /// <summary>The id of the group the lease was made in (<see cref="LeaseGroup"/>); null for a lease made alone.</summary>
    public string? Group { get; init; }

    /// <summary>Whether the lease is a best-effort lease waiting in its project's queue.</summary>
    public bool IsQueued => Kind == LeaseKind.BestEffort && State == LeaseState.Pending;

    /// <summary>Whether the lease is an advance reservation waiting on its host for its start.</summary>
    public bool IsReserved => Kind == LeaseKind.Reservation && State == LeaseState.Pending;

    /// <summary>
    /// The project whose quota, queue, fair share and usage the lease counts in: its maker's token's project. A lease made
    /// without one (by an unchecked caller, or stored before projects existed) counts in its owner's name.
    /// </summary>
    public string Project
    {
        get => _project.Length > 0 ? _project : Owner;
        // Stored as given only when it is not the owner, so a lease reads back equal to itself.
        init => _project = value == Owner ? string.Empty : value;
    }

    private readonly string _project = string.Empty;

    /// <summary>
    /// The guest's hostname: the lease id, which <see cref="LeaseId.New"/> makes a DNS label ("w-" and letters and
    /// digits); '.' and '_', which older ids could hold, become '-'.
    /// </summary>
    public string Hostname => string.Concat(Id.Value.Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '-'));

    /// <summary>
    /// The states in which a lease holds capacity on its host: a stopped or paused workspace keeps its disk
    /// and its place, and a stopping one occupies the host until it is gone. Placement counts exactly these.
    /// </summary>
    public static readonly IReadOnlyList<LeaseState> CapacityHoldingStates =
        [LeaseState.Starting, LeaseState.Running, LeaseState.Stopped, LeaseState.Paused, LeaseState.Stopping];

    public bool IsTerminal => State is LeaseState.Ended or LeaseState.Failed;

    /// <summary>Whether the lease's workspace should exist on its host, i.e. be in the host's desired set.</summary>
    public bool WantsWorkspace => State is LeaseState.Starting or LeaseState.Running or LeaseState.Stopped or LeaseState.Paused;

    /// <summary>Whether the lease holds capacity on its host.</summary>
    public bool HoldsCapacity => CapacityHoldingStates.Contains(State);

    /// <summary>Whether the owner asked for a reboot that the host has not carried out yet.</summary>
    public bool RebootPending => RebootsDone < RebootsRequested;
}
