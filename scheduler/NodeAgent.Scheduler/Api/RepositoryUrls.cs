using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// The image repository's URLs as hosts get them in their desired workspaces: images stored in this scheduler's
/// repository signed for their digest, and a save's upload URL signed for its lease and generation
/// (<see cref="Security.ImageGrants"/>). URLs elsewhere (another server, file://) are passed on as they are.
/// </summary>
/// <param name="repositoryUrl">The repository's public URL (ending in /v1/images); empty when there is none.</param>
internal sealed class RepositoryUrls(Func<string> repositoryUrl, Security.ImageGrants grants)
{
    public string Upload(string lease, long generation) => repositoryUrl() is { Length: > 0 } url ? grants.SignUpload(url, lease, generation) : string.Empty;

    /// <summary>A copy of <paramref name="image"/> whose URLs (and its kernel's and initrd's) into this repository carry a grant.</summary>
    public V1.ImageRef Signed(V1.ImageRef image)
    {
        var copy = image.Clone();
        Sign(copy);
        return copy;
    }

    private void Sign(V1.ImageRef? image)
    {
        if (image is null)
        {
            return;
        }

        var repository = repositoryUrl();
        if (repository.Length > 0 && image.Url.StartsWith(repository.TrimEnd('/') + "/", StringComparison.Ordinal) && !image.Url.Contains('?', StringComparison.Ordinal))
        {
            image.Url = grants.SignDownload(image.Url, image.Sha256);
        }

        Sign(image.Kernel);
        Sign(image.Initrd);
    }
}
