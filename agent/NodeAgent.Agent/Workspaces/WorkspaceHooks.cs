using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Images;

namespace NodeAgent.Agent.Workspaces;

/// <summary>What the lifecycle's hooks share while they prepare one workspace.</summary>
public sealed class WorkspaceContext(Workspace workspace, BaseImage image, WorkspaceMetadata metadata)
{
    public Workspace Workspace { get; } = workspace;

    public BaseImage Image { get; } = image;

    /// <summary>What the domain is defined with: its identity and its first phase.</summary>
    public WorkspaceMetadata Metadata { get; } = metadata;

    public string? RootDiskPath { get; set; }

    /// <summary>The blank data disks, in order (vdb, vdc, …).</summary>
    public IReadOnlyList<string> DataDiskPaths { get; set; } = [];

    public string? ConsoleLogPath { get; set; }

    /// <summary>The NoCloud seed ISO the domain gets as a CD-ROM; null for none.</summary>
    public string? SeedImagePath { get; set; }

    /// <summary>The guest's NICs in order, each on a bridge the agent owns; empty for a workspace without a network.</summary>
    public IReadOnlyList<DomainNic> Nics { get; set; } = [];
}

/// <summary>
/// One step of a workspace's life. Prepare steps run in order; clean-up steps run in reverse order and must
/// be safe when their prepare step never ran, failed half-way, or when clean-up runs twice.
/// </summary>
public interface IWorkspaceHook
{
    string Name { get; }

    Task PrepareAsync(WorkspaceContext context, CancellationToken cancellationToken);

    Task CleanupAsync(string workspaceId, CancellationToken cancellationToken);
}

/// <summary>The disks: the root disk, a qcow2 overlay on the cached image, and the blank data disks; clean-up removes the workspace's directory.</summary>
public sealed class RootDiskHook(DiskManager disks) : IWorkspaceHook
{
    public string Name => "disk";

    public async Task PrepareAsync(WorkspaceContext context, CancellationToken cancellationToken)
    {
        var workspace = context.Workspace;
        context.RootDiskPath = await disks.PrepareRootDiskAsync(workspace.Id, context.Image, workspace.DiskBytes, cancellationToken);
        context.DataDiskPaths = await disks.PrepareDataDisksAsync(workspace.Id, workspace.Storage.DataDiskBytes, cancellationToken);
        context.ConsoleLogPath = disks.ConsoleLogPath(workspace.Id);
    }

    public Task CleanupAsync(string workspaceId, CancellationToken cancellationToken)
    {
        disks.Remove(workspaceId);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The libvirt domain: defined from the typed spec (starting it is the state machine's next step) and marked
/// as defined in the workspace's directory, in its project's cgroup partition when partitions are on; clean-up
/// powers it off and undefines it.
/// </summary>
public sealed class DomainHook(IHypervisor hypervisor, DiskManager disks, Partitions.IWorkspacePartitions? partitions = null) : IWorkspaceHook
{
    public string Name => "domain";

    public Task PrepareAsync(WorkspaceContext context, CancellationToken cancellationToken)
    {
        var workspace = context.Workspace;
        if (hypervisor.FindDomain(workspace.DomainName) is null)
        {
            hypervisor.Define(DomainXml.Write(new DomainSpec(
                workspace.DomainName,
                hypervisor.DomainType,
                hypervisor.Architecture,
                workspace.Vcpus,
                workspace.MemoryBytes,
                context.RootDiskPath ?? throw new InvalidOperationException("the disk hook must run before the domain hook"),
                context.Image.KernelPath,
                context.Image.InitrdPath,
                context.Image.KernelCommandLine,
                context.ConsoleLogPath!,
                context.Metadata,
                context.SeedImagePath,
                context.Nics,
                context.DataDiskPaths,
                workspace.Storage.Limits,
                workspace.Limits,
                partitions?.PartitionFor(workspace.Owner))));
        }

        disks.MarkDefined(workspace.Id);
        return Task.CompletedTask;
    }

    public Task CleanupAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var name = DomainNames.For(workspaceId);
        hypervisor.Destroy(name);
        hypervisor.Undefine(name);
        return Task.CompletedTask;
    }
}
