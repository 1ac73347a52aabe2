using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;
using NodeAgent.Contract;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Saves a shut-off workspace's root disk as an image: flattens the overlay and its base into one qcow2
/// (<c>qemu-img convert</c>) beside the workspace's disk, computes its sha256, uploads it to the repository
/// the save names, and keeps the file in this host's image cache, so a lease of the new image here needs no
/// download. Whatever happens, no partial file is left behind; the outcome (digest or the reason it failed) is
/// what the caller records in the domain.
/// </summary>
public sealed partial class WorkspaceSaver(DiskManager disks, ImageCache cache, ImageUpload upload, CommandRunner runner, ILogger<WorkspaceSaver> logger)
{
    /// <summary>Flattening reads and writes the whole disk: allow for a large one on slow storage.</summary>
    private static readonly TimeSpan ConvertTimeout = TimeSpan.FromHours(6);

    public async Task<SaveOutcome> SaveAsync(string workspaceId, WorkspaceSave save, CancellationToken cancellationToken)
    {
        var flat = Path.Combine(disks.WorkspaceDirectory(workspaceId), $"save-{save.Generation}.qcow2.partial");
        try
        {
            File.Delete(flat);
            await FlattenAsync(workspaceId, flat, cancellationToken);
            var sha256 = await ImageUpload.ComputeSha256Async(flat, cancellationToken);
            var size = new FileInfo(flat).Length;
            var result = await upload.UploadAsync(save.UploadUrl, flat, sha256, null, cancellationToken);
            LogSaved(logger, workspaceId, save.ImageName, sha256, size, result.AlreadyPresent);
            await KeepInCacheAsync(workspaceId, flat, sha256, cancellationToken);
            return new SaveOutcome(save.Generation, sha256, size, string.Empty);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogSaveFailed(logger, e, workspaceId, save.ImageName);
            return new SaveOutcome(save.Generation, string.Empty, 0, $"saving the disk of workspace {workspaceId} as {save.ImageName} failed: {e.Message}");
        }
        finally
        {
            File.Delete(flat);
        }
    }

    private async Task FlattenAsync(string workspaceId, string flat, CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync("qemu-img", ["convert", "-O", "qcow2", disks.RootDiskPath(workspaceId), flat], ConvertTimeout, cancellationToken);
        if (result.ExitCode == 0)
        {
            return;
        }

        var free = CacheFiles.FreeBytes(disks.WorkspaceDirectory(workspaceId));
        throw result.StandardError.Contains("No space left on device", StringComparison.Ordinal)
            ? new DiskException($"the filesystem of {disks.WorkspaceDirectory(workspaceId)} is full ({free} bytes free) while flattening the disk; free space there (a save needs room for the whole flattened disk), then save again")
            : new DiskException($"qemu-img convert failed ({result.ExitCode}): {result.StandardError.Trim()}");
    }

    /// <summary>The saved file joins the cache; a host that cannot keep it (cache full) has still saved it.</summary>
    private async Task KeepInCacheAsync(string workspaceId, string flat, string sha256, CancellationToken cancellationToken)
    {
        try
        {
            await cache.AdoptAsync(flat, sha256, cancellationToken);
        }
        catch (ImageException e)
        {
            LogNotCached(logger, workspaceId, e.Message);
        }
    }

    [LoggerMessage(EventId = 460, Level = LogLevel.Information, Message = "Workspace {WorkspaceId} saved as {ImageName}: sha256 {Sha256}, {SizeBytes} bytes (already in the repository: {AlreadyPresent})")]
    private static partial void LogSaved(ILogger logger, string workspaceId, string imageName, string sha256, long sizeBytes, bool alreadyPresent);

    [LoggerMessage(EventId = 461, Level = LogLevel.Warning, Message = "Saving workspace {WorkspaceId} as {ImageName} failed")]
    private static partial void LogSaveFailed(ILogger logger, Exception exception, string workspaceId, string imageName);

    [LoggerMessage(EventId = 462, Level = LogLevel.Information, Message = "The saved disk of workspace {WorkspaceId} is not kept in the image cache: {Reason}")]
    private static partial void LogNotCached(ILogger logger, string workspaceId, string reason);
}
