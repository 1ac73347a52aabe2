using Microsoft.Extensions.Logging;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;

namespace NodeAgent.Agent.Workspaces;

/// <summary>A workspace could not be created or removed; the message says why and what to do.</summary>
public sealed class WorkspaceException : Exception
{
    public WorkspaceException(string message)
        : base(message)
    {
    }

    public WorkspaceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public WorkspaceException()
    {
    }
}

/// <summary>
/// Provisions and removes what a workspace is made of by running the lifecycle hooks: each prepare step in
/// order, each clean-up step in reverse. A failed provisioning cleans up what it made, so a failure leaves
/// nothing behind on the host. Each finished step is a failpoint, named prepare:HOOK or cleanup:HOOK.
/// </summary>
public sealed partial class WorkspaceLifecycle(
    ImageCache images, DiskManager disks, IReadOnlyList<IWorkspaceHook> hooks, IFailpoints failpoints, ILogger<WorkspaceLifecycle> logger)
{
    /// <summary>
    /// Prepares everything up to a defined domain whose metadata is <paramref name="metadata"/>; repeating it is harmless.
    /// The images come first: fetched into the cache and verified if they are not there, then recorded as the
    /// workspace's, so the cache keeps them for as long as the workspace exists.
    /// </summary>
    /// <param name="progress">Told how a download goes, in words for the lease's owner.</param>
    public async Task ProvisionAsync(Workspace workspace, WorkspaceMetadata metadata, Action<string>? progress, CancellationToken cancellationToken)
    {
        var source = workspace.ImageSource ?? throw new WorkspaceException(
            $"workspace {workspace.Id} names image {workspace.Image} without its digest and source; the scheduler must send the catalogue's (upgrade it to this agent's version)");
        var held = new List<CachedImage>();
        try
        {
            foreach (var image in source.All)
            {
                held.Add(await AcquireAsync(image, progress, cancellationToken));
            }

            disks.RecordImages(workspace.Id, held.Select(h => h.Sha256));
            var kernel = source.Kernel is null ? null : held[1].Path;
            var initrd = source.Initrd is null ? null : held[^1].Path;
            var local = new BaseImage(source.Disk.Name, held[0].Path, kernel, initrd, source.KernelCommandLine, source.Disk.Format);
            await PrepareAsync(new WorkspaceContext(workspace, local, metadata), cancellationToken);
        }
        finally
        {
            foreach (var image in held)
            {
                image.Dispose();
            }
        }
    }

    private async Task<CachedImage> AcquireAsync(ImageSource image, Action<string>? progress, CancellationToken cancellationToken)
    {
        try
        {
            return await images.AcquireAsync(image, progress is null ? null : new FetchProgress(image, progress), cancellationToken);
        }
        catch (ImageException e)
        {
            throw new WorkspaceException($"image {image}: {e.Message}", e);
        }
    }

    private async Task PrepareAsync(WorkspaceContext context, CancellationToken cancellationToken)
    {
        var workspace = context.Workspace;
        foreach (var hook in hooks)
        {
            try
            {
                await hook.PrepareAsync(context, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPrepareFailed(logger, e, workspace.Id, hook.Name);
                await RemoveAsync(workspace.Id, cancellationToken);
                throw new WorkspaceException($"step '{hook.Name}' failed: {e.Message}", e);
            }

            failpoints.Reached(workspace.Id, "prepare:" + hook.Name);
        }
    }

    /// <summary>Runs every clean-up step, in reverse order, even when an earlier one fails; then reports the first failure.</summary>
    public async Task RemoveAsync(string workspaceId, CancellationToken cancellationToken)
    {
        Exception? first = null;
        for (var i = hooks.Count - 1; i >= 0; i--)
        {
            try
            {
                await hooks[i].CleanupAsync(workspaceId, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCleanupFailed(logger, e, workspaceId, hooks[i].Name);
                first ??= e;
                continue;
            }

            failpoints.Reached(workspaceId, "cleanup:" + hooks[i].Name);
        }

        if (first is not null)
        {
            throw new WorkspaceException($"removing workspace {workspaceId} failed: {first.Message}", first);
        }
    }

    /// <summary>Turns download progress into a line for the lease's owner, at most one per 5 % (or per 256 MiB of an image of unknown size).</summary>
    private sealed class FetchProgress(ImageSource image, Action<string> report) : IProgress<ImageFetchProgress>
    {
        private long _shown = -1;

        public void Report(ImageFetchProgress value)
        {
            var step = value.BytesTotal is long total and > 0 ? value.BytesDone * 20 / total : value.BytesDone >> 28;
            if (step == _shown)
            {
                return;
            }

            _shown = step;
            var of = value.BytesTotal is long size and > 0 ? $" of {Size(size)} ({value.BytesDone * 100 / size} %)" : string.Empty;
            report($"fetching image {image}: {Size(value.BytesDone)}{of}");
        }

        private static string Size(long bytes) => bytes >= 1 << 20 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Preparing workspace {WorkspaceId} failed at step {Step}; cleaning up")]
    private static partial void LogPrepareFailed(ILogger logger, Exception exception, string workspaceId, string step);

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Clean-up step {Step} of workspace {WorkspaceId} failed")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception, string workspaceId, string step);
}
