using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Leases;

/// <summary>What the lease logic needs of the image catalogue and repository.</summary>
public interface ILeaseImages
{
    /// <summary>
    /// The image version a new lease boots from (version 0: the newest active one), with its digest, source and
    /// outside kernel. Throws when the catalogue has no such image, or when that version is retired.
    /// </summary>
    V1.ImageRef ResolveForLease(string name, uint version);

    /// <summary>Whether <paramref name="owner"/> may add a version of <paramref name="name"/>: a new name, or one whose versions are all theirs.</summary>
    bool MayAddVersion(string name, string owner, out string problem);

    /// <summary>
    /// Registers a saved root disk, already stored in the repository under <paramref name="sha256"/>, as a new
    /// version of <paramref name="name"/> owned by <paramref name="owner"/> that boots like <paramref name="basedOn"/>;
    /// returns the version. Registering the same lease's same digest again returns the existing version.
    /// </summary>
    Task<uint> AddSavedAsync(string name, string owner, string sha256, long sizeBytes, string savedFromLease, V1.ImageRef basedOn, string description, CancellationToken cancellationToken);
}
