using NodeAgent.Scheduler.Leases;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// The catalogue and the repository as the lease logic uses them: resolving a lease's image, and registering
/// a saved disk once the repository holds its bytes.
/// </summary>
/// <param name="repositoryUrl">The repository's base URL (…/v1/images), or null when this scheduler has none.</param>
/// <param name="repositoryHas">Whether the repository holds a file with this digest.</param>
public sealed class LeaseImages(ImageCatalogue catalogue, Func<Uri?> repositoryUrl, Func<string, bool> repositoryHas) : ILeaseImages
{
    /// <exception cref="InvalidImageException">The image is a kernel or an initrd, which cannot boot on its own.</exception>
    public V1.ImageRef ResolveForLease(string name, uint version)
    {
        var image = catalogue.ResolveForLease(name, version);
        return image.Format is V1.ImageFormat.Kernel or V1.ImageFormat.Initrd
            ? throw new InvalidImageException([$"image {image.Name}:{image.Version} is a {(image.Format == V1.ImageFormat.Kernel ? "kernel" : "initrd")}, not a disk image; lease a qcow2 or raw image (`ws image list` shows them)"])
            : image;
    }

    public bool MayAddVersion(string name, string owner, out string problem)
    {
        if (repositoryUrl() is null)
        {
            problem = "this scheduler has no image repository to save into; start it with --image-listen (see nodeagent-scheduler --help)";
            return false;
        }

        var others = catalogue.List(includeRetired: true, name).Select(i => i.Owner).Where(o => o != owner).Distinct().ToList();
        problem = others.Count == 0 ? string.Empty
            : $"image {name} belongs to {string.Join(", ", others)}; a save may only add versions to your own images: pick another name with --as";
        return others.Count == 0;
    }

    public async Task<uint> AddSavedAsync(string name, string owner, string sha256, long sizeBytes, string savedFromLease, V1.ImageRef basedOn, string description, CancellationToken cancellationToken)
    {
        var existing = catalogue.List(includeRetired: true, name).FirstOrDefault(i => i.SavedFromLease == savedFromLease && i.Sha256 == sha256);
        if (existing is not null)
        {
            return existing.Version;
        }

        var url = repositoryUrl() ?? throw new InvalidOperationException("this scheduler no longer has an image repository; start it with --image-listen");
        if (!repositoryHas(sha256))
        {
            throw new InvalidOperationException($"the image repository holds no file with sha256 {sha256}: the host's upload did not arrive; save again");
        }

        var image = await catalogue.AddSaved(name, owner, sha256, sizeBytes, $"{url.AbsoluteUri.TrimEnd('/')}/sha256/{sha256}", savedFromLease, basedOn, description, cancellationToken);
        return image.Version;
    }
}
