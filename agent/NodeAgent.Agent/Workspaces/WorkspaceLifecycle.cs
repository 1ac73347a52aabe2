using Microsoft.Extensions.Logging;
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
public sealed partial class WorkspaceLifecycle(ImageStore images, IReadOnlyList<IWorkspaceHook> hooks, IFailpoints failpoints, ILogger<WorkspaceLifecycle> logger)
{
    /// <summary>Prepares everything up to a defined domain whose metadata is <paramref name="metadata"/>; repeating it is harmless.</summary>
    public async Task ProvisionAsync(Workspace workspace, WorkspaceMetadata metadata, CancellationToken cancellationToken)
    {
        var image = images.Find(workspace.Image) ?? throw new WorkspaceException(
            $"image {workspace.Image} is not cached on this host (looked in {images.Directory}); images there: {string.Join(", ", images.List().DefaultIfEmpty("none"))}");
        var context = new WorkspaceContext(workspace, image, metadata);
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

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Preparing workspace {WorkspaceId} failed at step {Step}; cleaning up")]
    private static partial void LogPrepareFailed(ILogger logger, Exception exception, string workspaceId, string step);

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Clean-up step {Step} of workspace {WorkspaceId} failed")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception, string workspaceId, string step);
}
