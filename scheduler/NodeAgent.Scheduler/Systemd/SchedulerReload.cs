using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Service;

namespace NodeAgent.Scheduler.Systemd;

/// <summary>
/// What a reload changes in a running scheduler (<see cref="SchedulerCommandLine.ReloadableKeys"/>): placement's
/// strategy, weights and sample size (from the next decision on), the expiry warning and grace (from the next expiry
/// pass and desired set), the heartbeat TTL (host health from now on; agents hear it when they register) and the log
/// level, and the TLS certificate, key and client CA (read again from their files, from the next connection on). Leases
/// already placed, warned or stopping are not touched.
/// </summary>
public sealed class SchedulerReload(
    SchedulerCommandLine commandLine, SchedulerOptions started, PlacementPipeline placement, LeaseManager leases, HostRegistry hosts, LogLevelSwitch levels,
    Security.SchedulerTls tls) : IReloadTarget
{
    private SchedulerOptions _running = started;

    public IReadOnlySet<string> ReloadableKeys => SchedulerCommandLine.ReloadableKeys;

    public Task<bool> ApplyAsync(DaemonConfiguration configuration, IReadOnlySet<string> changed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var service = commandLine.Service.Bind(configuration);
        var next = commandLine.Bind(configuration);
        if (configuration.Problems.Count > 0)
        {
            return Task.FromResult(false);
        }

        var running = _running with
        {
            Placement = _running.Placement with { Strategy = next.Placement.Strategy, Weights = next.Placement.Weights, SampleSize = next.Placement.SampleSize },
            ExpiryWarning = next.ExpiryWarning,
            ExpiryGrace = next.ExpiryGrace,
            HeartbeatTtl = next.HeartbeatTtl,
            TlsCertificate = next.TlsCertificate,
            TlsKey = next.TlsKey,
            ClientCa = next.ClientCa,
        };

        // The new TTL must suit the heartbeat interval agents were given at start, not only the one in the file.
        configuration.AddValidationProblems(running.Validate());
        if (configuration.Problems.Count > 0)
        {
            return Task.FromResult(false);
        }

        // Read again even when the paths are the same: a renewed certificate replaces the file's content.
        try
        {
            tls.Reload(running);
        }
        catch (NodeAgent.Rpc.TlsFileException e)
        {
            configuration.AddValidationProblems([e.Message]);
            return Task.FromResult(false);
        }

        placement.Reconfigure(running.Placement);
        leases.Expiry = new LeaseExpiryPolicy(running.ExpiryWarning, running.ExpiryGrace);
        hosts.HeartbeatTtl = running.HeartbeatTtl;
        levels.Minimum = service.LogLevel;
        _running = running;
        return Task.FromResult(true);
    }
}
