using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Workspaces;

namespace NodeAgent.Agent.Contextualization;

/// <summary>
/// The workspace's NoCloud seed: <c>seed.iso</c> in the workspace's directory, which the domain hook attaches as a
/// CD-ROM. Runs after the disk hook (which makes the directory) and before the domain hook. What goes into the
/// seed comes from <paramref name="seedFor"/>, which maps a workspace to its seed (null: the workspace gets none).
/// A seed already built is kept: its content is fixed at provisioning, and a running guest's CD-ROM must not
/// change under it. Clean-up removes the seed and any half-built one.
/// </summary>
public sealed class SeedHook(SeedImage image, DiskManager disks, Func<Workspace, NoCloudSeed?> seedFor) : IWorkspaceHook
{
    public string Name => "seed";

    /// <summary>The seed of a workspace that carries nothing more: its id as instance id and as hostname, no keys, no NICs.</summary>
    public static NoCloudSeed IdentityOnly(Workspace workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        return new NoCloudSeed(workspace.Id, NoCloudSeed.HostnameFor(workspace.Id), [], []);
    }

    /// <summary>The seed of a workspace: its hostname, SSH keys and NICs, as checked on arrival (<see cref="WorkspaceGuest"/>).</summary>
    public static NoCloudSeed ForWorkspace(Workspace workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        return workspace.Guest is not { } guest
            ? IdentityOnly(workspace)
            : new NoCloudSeed(workspace.Id, guest.Hostname, guest.SshKeys,
                [.. guest.Nics.Select(n => new SeedNicInput(n.Mac, n.Address.ToString(), n.PrefixLength, n.Gateway?.ToString(), [.. n.DnsServers.Select(d => d.ToString())]))]);
    }

    public async Task PrepareAsync(WorkspaceContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var seed = seedFor(context.Workspace);
        if (seed is null)
        {
            context.SeedImagePath = null;
            return;
        }

        var directory = disks.WorkspaceDirectory(context.Workspace.Id);
        if (context.RootDiskPath is null || !Directory.Exists(directory))
        {
            throw new InvalidOperationException("the disk hook must run before the seed hook");
        }

        var iso = SeedImage.PathIn(directory);
        context.SeedImagePath = File.Exists(iso) ? iso : await image.BuildAsync(seed, directory, cancellationToken);
    }

    public Task CleanupAsync(string workspaceId, CancellationToken cancellationToken)
    {
        SeedImage.Remove(disks.WorkspaceDirectory(workspaceId));
        return Task.CompletedTask;
    }
}
