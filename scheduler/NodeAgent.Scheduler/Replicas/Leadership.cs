using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Replicas;

/// <summary>
/// Runs the background duties (expiry, the best-effort queue, reservations' starts, drains) on one scheduler replica
/// at a time when several share a database. The duties hold a term in the database (<see cref="ILeadershipStore"/>)
/// and renew it while a third of it is left; when the holder dies, its term runs out and the next replica whose
/// duty asks takes over, so duties stop for at most one <see cref="Term"/>. Any replica serves the whole API; every
/// duty's write is a state transition checked in its own transaction, so a replica that lost its term while a pass
/// was under way changes nothing another replica already changed. A scheduler stopping gracefully gives its term up.
/// </summary>
public sealed partial class Leadership(ILeadershipStore store, TimeProvider time, ILogger<Leadership> logger) : IHostedService, IDisposable
{
    /// <summary>The one duty name: all background duties move together.</summary>
    public const string Duties = "background-duties";

    /// <summary>How long a term lasts without renewal.</summary>
    public static readonly TimeSpan Term = TimeSpan.FromSeconds(6);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private DateTimeOffset _heldUntil = DateTimeOffset.MinValue;
    private DateTimeOffset _nextAttempt = DateTimeOffset.MinValue;
    private string? _lastHolder;

    /// <summary>This replica's name in the database: host, process id and a random suffix.</summary>
    public string Holder { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";

    /// <summary>
    /// Whether this replica runs the duties now: true while its term has more than two thirds left; otherwise it
    /// renews (or tries to take) the term first. A replica that is not the holder asks again at most once a second.
    /// </summary>
    public async Task<bool> HoldAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (now + (Term / 3 * 2) < _heldUntil || (now < _nextAttempt && now >= _heldUntil))
        {
            return now < _heldUntil;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            now = time.GetUtcNow();
            var until = now + Term;
            var holder = await store.HoldAsync(Duties, Holder, now, until, cancellationToken);
            var held = holder == Holder;
            _heldUntil = held ? until : DateTimeOffset.MinValue;
            _nextAttempt = now + TimeSpan.FromSeconds(1);
            if (holder != _lastHolder)
            {
                if (held)
                {
                    LogTaken(logger, Holder);
                }
                else
                {
                    LogHeldElsewhere(logger, holder, Holder);
                }

                _lastHolder = holder;
            }

            return held;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Gives the term up, so another replica takes the duties over without waiting for it to run out.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_heldUntil > time.GetUtcNow())
        {
            await store.ReleaseAsync(Duties, Holder, cancellationToken);
            _heldUntil = DateTimeOffset.MinValue;
        }
    }

    public void Dispose() => _gate.Dispose();

    [LoggerMessage(EventId = 900, Level = LogLevel.Information, Message = "This scheduler ({Holder}) now runs the background duties: expiry, the queue, reservations and drains")]
    private static partial void LogTaken(ILogger logger, string holder);

    [LoggerMessage(EventId = 901, Level = LogLevel.Information, Message = "Replica {Other} runs the background duties; this scheduler ({Holder}) serves the API and takes them over if that replica stops renewing")]
    private static partial void LogHeldElsewhere(ILogger logger, string other, string holder);
}
