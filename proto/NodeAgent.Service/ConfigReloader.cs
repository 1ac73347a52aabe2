using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Service;

/// <summary>A daemon's part of a reload: what it can change while it runs, and how.</summary>
public interface IReloadTarget
{
    /// <summary>Keys applied at run time; any other key that changed takes effect at the next restart.</summary>
    IReadOnlySet<string> ReloadableKeys { get; }

    /// <summary>
    /// Binds and validates <paramref name="configuration"/>, adding every problem to it; when it has none, applies the
    /// reloadable settings (<paramref name="changed"/> are those that differ from the running ones) and returns true.
    /// Running work (workspaces, leases) is never touched by a reload.
    /// </summary>
    Task<bool> ApplyAsync(DaemonConfiguration configuration, IReadOnlySet<string> changed, CancellationToken cancellationToken);
}

/// <summary>What one reload did: applied or not, every problem found, the keys applied and those that need a restart.</summary>
public sealed record ReloadOutcome(bool Applied, IReadOnlyList<string> Problems, IReadOnlyList<string> AppliedKeys, IReadOnlyList<string> RestartKeys);

/// <summary>
/// Reloads the configuration on SIGHUP (`systemctl reload`: ExecReload=/bin/kill -HUP $MAINPID, or Type=notify-reload):
/// reads the file again with the same command line, and either applies what may change at run time or, when
/// anything is wrong, logs every problem and keeps running as before. systemd hears RELOADING=1 before and READY=1
/// after, either way. Keys that changed but can only take effect at a restart are logged by name, and again at the
/// next reload until the daemon restarts.
/// </summary>
public sealed partial class ConfigReloader(
    DaemonConfiguration initial, IReloadTarget target, IServiceState state, SystemdNotifier notifier, ILogger<ConfigReloader> logger) : BackgroundService
{
    private readonly SemaphoreSlim _requests = new(0, 1);
    private readonly SemaphoreSlim _one = new(1, 1);
    // The running value of each key as written: reloadable keys take their new values, the others keep theirs.
    private readonly Dictionary<string, string> _running = new(initial.EffectiveValues(), StringComparer.Ordinal);

    /// <summary>Asks for a reload (what SIGHUP does); requests made while one runs are merged into one more.</summary>
    public void Request()
    {
        try
        {
            _requests.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    /// <summary>Reloads now and says what happened.</summary>
    public async Task<ReloadOutcome> ReloadAsync(CancellationToken cancellationToken)
    {
        await _one.WaitAsync(cancellationToken);
        var file = initial.FilePath ?? "(no configuration file)";
        try
        {
            notifier.Reloading("reloading the configuration");
            LogReloading(logger, file);
            var next = initial.Reload();
            var values = next.EffectiveValues();
            var changed = values.Where(v => _running.GetValueOrDefault(v.Key) != v.Value).Select(v => v.Key).Order(StringComparer.Ordinal).ToList();
            var reloadable = changed.Where(target.ReloadableKeys.Contains).ToHashSet(StringComparer.Ordinal);
            var restart = changed.Where(k => !target.ReloadableKeys.Contains(k)).ToList();
            if (next.OverriddenKeys.Count > 0)
            {
                var overridden = string.Join(", ", next.OverriddenKeys);
                LogOverridden(logger, overridden);
            }

            if (!await target.ApplyAsync(next, reloadable, cancellationToken) || next.Problems.Count > 0)
            {
                foreach (var problem in next.Problems)
                {
                    LogProblem(logger, problem);
                }

                LogKept(logger, next.Problems.Count, next.FilePath ?? file);
                return new ReloadOutcome(false, next.Problems, [], []);
            }

            foreach (var key in reloadable)
            {
                _running[key] = values[key];
            }

            var applied = reloadable.Order(StringComparer.Ordinal).ToList();
            LogReloaded(logger, next.FilePath ?? file, applied.Count == 0 ? "nothing changed" : string.Join(", ", applied));
            if (restart.Count > 0)
            {
                LogRestartNeeded(logger, string.Join(", ", restart));
            }

            return new ReloadOutcome(true, [], applied, restart);
        }
        finally
        {
            notifier.Ready(state.Describe());
            _one.Release();
        }
    }

    public override void Dispose()
    {
        _requests.Dispose();
        _one.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Without a handler SIGHUP would end the process; with it, the signal only asks for a reload.
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Request();
        });
        try
        {
            while (true)
            {
                await _requests.WaitAsync(stoppingToken);
                try
                {
                    await ReloadAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A fault of the daemon's own while applying: the next SIGHUP tries again; the daemon keeps running.
                    LogFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 9020, Level = LogLevel.Information, Message = "Reloading the configuration from {File}")]
    private static partial void LogReloading(ILogger logger, string file);

    [LoggerMessage(EventId = 9021, Level = LogLevel.Error, Message = "Reload: {Problem}")]
    private static partial void LogProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 9022, Level = LogLevel.Error, Message = "Reload refused for the problems in {File} listed above ({Count}); the running configuration is kept: fix them and reload again")]
    private static partial void LogKept(ILogger logger, int count, string file);

    [LoggerMessage(EventId = 9023, Level = LogLevel.Information, Message = "Reloaded the configuration from {File}: applied {Applied}")]
    private static partial void LogReloaded(ILogger logger, string file, string applied);

    [LoggerMessage(EventId = 9026, Level = LogLevel.Information, Message = "The command line gives {Keys} too, so the file's values of them are ignored")]
    private static partial void LogOverridden(ILogger logger, string keys);

    [LoggerMessage(EventId = 9025, Level = LogLevel.Error, Message = "Reloading the configuration failed; the daemon keeps running, and the next SIGHUP tries again")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9024, Level = LogLevel.Warning, Message = "Changed in the configuration but only applied at the next restart: {Keys}")]
    private static partial void LogRestartNeeded(ILogger logger, string keys);
}
