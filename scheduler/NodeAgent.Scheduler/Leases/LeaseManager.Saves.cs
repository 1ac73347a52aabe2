using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;

namespace NodeAgent.Scheduler.Leases;

/// <summary>What an agent reported of a save: generation <see cref="Generation"/> finished, with <see cref="Error"/> empty on success.</summary>
public sealed record SaveReport(long Generation, bool Done, string Error, string Sha256, long SizeBytes);

/// <summary>Saves: the owner's request to save a stopped lease's root disk as an image, and the host's answer.</summary>
public sealed partial class LeaseManager
{
    /// <summary>
    /// Asks the lease's host to save its root disk as a new version of <paramref name="imageName"/>: records save
    /// generation N+1 and hands it to the host with a new desired-set version. The image is registered when the
    /// host reports the save done.
    /// </summary>
    /// <exception cref="LeaseNotFoundException">No such lease.</exception>
    /// <exception cref="LeaseStateException">The lease cannot be saved now; the message says what to do.</exception>
    public async Task<Lease> SaveAsync(LeaseId id, string imageName, string description, CancellationToken cancellationToken)
    {
        var now = Now();
        var lease = await store.WriteAsync(session =>
        {
            var lease = session.FindLease(id) ?? throw new LeaseNotFoundException(id);
            if (!images.MayAddVersion(imageName, lease.Owner, out var problem))
            {
                throw new LeaseStateException(lease, problem);
            }

            var next = LeaseSaving.Ask(lease, imageName, description, now);
            session.Update(next);
            session.BumpDesiredVersion(next.Host!.Value);
            return next;
        }, cancellationToken);

        LogSaveAsked(logger, lease.Id.Value, lease.Save!.ImageName, lease.Save.Generation, lease.Host!.Value.Value);
        Changed(lease);
        return lease;
    }

    /// <summary>
    /// Registers each finished, successful save in the catalogue, and records every finished save on its lease. A
    /// report of a save that is not the lease's running one changes nothing, so a report repeated after the
    /// lease moved on is harmless; registering is idempotent, so one repeated after a crash between the two
    /// steps adds no second image.
    /// </summary>
    private async Task FinishSavesAsync(HostId host, IReadOnlyList<WorkspaceObservation> observations, CancellationToken cancellationToken)
    {
        foreach (var observation in observations)
        {
            if (observation.Save is not { Done: true } report)
            {
                continue;
            }

            var lease = store.Read(s => s.FindLease(observation.Id));
            if (lease is null || lease.Host != host || lease.Save is not { State: SaveState.Saving } save || save.Generation != report.Generation)
            {
                continue;
            }

            var error = report.Error;
            var version = 0;
            if (error.Length == 0)
            {
                try
                {
                    version = (int)await images.AddSavedAsync(save.ImageName, lease.Owner, report.Sha256, report.SizeBytes, lease.Id.Value, lease.ImageRef!, save.Description, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException and not StoreException)
                {
                    error = "registering the saved image failed: " + e.Message;
                }
            }

            var finished = await store.WriteAsync(session =>
            {
                var current = session.FindLease(observation.Id);
                var next = current is null ? null : LeaseSaving.Finish(current, report.Generation, error, version, Now());
                if (next is not null)
                {
                    session.Update(next);
                }

                return next;
            }, cancellationToken);

            if (finished?.Save is { } done)
            {
                LogSaveFinished(logger, finished.Id.Value, done.ImageName, done.ImageVersion, done.State, done.Reason);
                Changed(finished);
            }
        }
    }

    [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "Lease {LeaseId}: its owner asked to save it as {ImageName} (save {Generation}) on {HostId}")]
    private static partial void LogSaveAsked(ILogger logger, string leaseId, string imageName, long generation, string hostId);

    [LoggerMessage(EventId = 306, Level = LogLevel.Information, Message = "Lease {LeaseId}: save as {ImageName} version {Version} is {State} {Reason}")]
    private static partial void LogSaveFinished(ILogger logger, string leaseId, string imageName, int version, SaveState state, string reason);
}
