using NodeAgent.Contract;

namespace NodeAgent.Cli.Commands;

/// <summary>What an upload did: the digest the file has, its size, and whether the repository had it already.</summary>
public sealed record UploadOutcome(string Sha256, long SizeBytes, bool AlreadyPresent);

/// <summary>Hashes a local image file and puts it into the scheduler's image repository, for <c>ws image add --file</c>.</summary>
public interface IImageUploader
{
    /// <summary>The file's sha256, lower-case hex.</summary>
    Task<string> ComputeSha256Async(string file, CancellationToken cancellationToken);

    /// <summary>Puts the file at <c>{repositoryUrl}/sha256/{sha256}</c>, reporting bytes sent to <paramref name="progress"/>.</summary>
    /// <exception cref="ImageUploadException">The repository could not be reached or refused the file.</exception>
    /// <param name="bearerToken">The caller's token, for a repository that needs one (an admin's); null for none.</param>
    Task<UploadOutcome> UploadAsync(Uri repositoryUrl, string file, string sha256, IProgress<long>? progress, CancellationToken cancellationToken, string? bearerToken = null);
}

/// <summary>The repository's own upload client (<see cref="ImageUpload"/>), which agents saving a workspace use too.</summary>
public sealed class RepositoryUploader : IImageUploader
{
    public Task<string> ComputeSha256Async(string file, CancellationToken cancellationToken) => ImageUpload.ComputeSha256Async(file, cancellationToken);

    public async Task<UploadOutcome> UploadAsync(
        Uri repositoryUrl, string file, string sha256, IProgress<long>? progress, CancellationToken cancellationToken, string? bearerToken = null)
    {
        using var upload = new ImageUpload(new ImageUploadOptions { BearerToken = bearerToken });
        var result = await upload.UploadAsync(repositoryUrl, file, sha256, progress, cancellationToken);
        return new UploadOutcome(result.Sha256, result.SizeBytes, result.AlreadyPresent);
    }

    /// <summary>Where the repository keeps the blob with this digest (and where agents fetch it from).</summary>
    public static Uri BlobUrl(Uri repositoryUrl, string sha256) =>
        new(repositoryUrl.ToString().TrimEnd('/') + "/sha256/" + sha256);
}

/// <summary>Shows an upload's progress on one terminal line of stderr, redrawn when the whole percentage changes.</summary>
internal sealed class TerminalProgress(TextWriter error, string label, long total) : IProgress<long>
{
    private int _shown = -1;

    public void Report(long value)
    {
        var percent = total == 0 ? 100 : (int)(value * 100 / total);
        if (percent == _shown)
        {
            return;
        }

        _shown = percent;
        error.Write($"\rws: uploading {label}: {Output.Units.Bytes((ulong)value)} of {Output.Units.Bytes((ulong)total)} ({percent}%)");
        if (value >= total)
        {
            error.WriteLine();
        }
    }
}
