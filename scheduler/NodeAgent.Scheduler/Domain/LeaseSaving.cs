namespace NodeAgent.Scheduler.Domain;

/// <summary>
/// When an owner may save a lease's root disk as an image, and how a save's outcome changes the lease. A save
/// needs a consistent disk, so the workspace must be stopped (shut off by its owner, <c>ws stop</c>); while a
/// save runs the workspace stays stopped: starting it, or saving it again, waits until the save is done.
/// </summary>
public static class LeaseSaving
{
    /// <summary>The lease with save generation N+1 asked for; throws <see cref="LeaseStateException"/> saying what to do when it cannot be saved now.</summary>
    public static Lease Ask(Lease lease, string imageName, string description, DateTimeOffset now)
    {
        if (lease.State != LeaseState.Stopped || lease.Power != PowerState.Stopped)
        {
            var how = lease.State is LeaseState.Running or LeaseState.Paused or LeaseState.Starting
                ? $"stop it first (`ws stop {lease.Id}`), save it, then start it again (`ws start {lease.Id}`)"
                : "only a lease whose workspace is stopped on its host can be saved";
            throw new LeaseStateException(lease, $"lease {lease.Id} is {LeaseStateMachine.Name(lease.State)}; a save copies a consistent disk, so {how}");
        }

        if (lease.Save is { State: SaveState.Saving } running)
        {
            throw new LeaseStateException(lease, $"lease {lease.Id} is already being saved as {running.ImageName} (asked {running.RequestedAt:u}); wait for it to finish (`ws show {lease.Id}`)");
        }

        if (lease.ImageRef is null)
        {
            throw new LeaseStateException(lease, $"lease {lease.Id} was made before the image catalogue existed, so its image's boot settings are unknown; it cannot be saved");
        }

        var generation = (lease.Save?.Generation ?? 0) + 1;
        return lease with
        {
            Save = new LeaseSave(imageName, generation, SaveState.Saving, string.Empty, 0, now, description),
            UpdatedAt = now,
        };
    }

    /// <summary>The lease with its running save finished: saved as <paramref name="version"/>, or failed with <paramref name="error"/>. Null when the report is not about the running save.</summary>
    public static Lease? Finish(Lease lease, long generation, string? error, int version, DateTimeOffset now)
    {
        if (lease.Save is not { State: SaveState.Saving } save || save.Generation != generation)
        {
            return null;
        }

        var finished = string.IsNullOrEmpty(error)
            ? save with { State = SaveState.Saved, ImageVersion = version, Reason = string.Empty }
            : save with { State = SaveState.Failed, Reason = error };
        return lease with { Save = finished, UpdatedAt = now };
    }

    /// <summary>A lease that ends while its save runs: the save fails, naming why.</summary>
    public static Lease Abandon(Lease lease, string why, DateTimeOffset now) =>
        lease.Save is { State: SaveState.Saving } save
            ? lease with { Save = save with { State = SaveState.Failed, Reason = $"the lease {why} before the save finished" }, UpdatedAt = now }
            : lease;

    /// <summary>Whether a power action must wait for a running save: everything except keeping the workspace stopped.</summary>
    public static void CheckPower(Lease lease, PowerAction action)
    {
        if (lease.Save is { State: SaveState.Saving } save && action != PowerAction.Stop)
        {
            throw new LeaseStateException(lease, $"lease {lease.Id} is being saved as {save.ImageName}; its workspace stays stopped until the save is done (`ws show {lease.Id}` shows it)");
        }
    }
}
