namespace NodeAgent.Agent.Images;

/// <summary>How far a fetch is: bytes in the partial file, and the image's size when it is known.</summary>
public sealed record ImageFetchProgress(long BytesDone, long? BytesTotal);

/// <summary>
/// Passes progress on at most once per interval of the injected clock, plus the first and the last report,
/// so a fast download does not flood whoever listens (a heartbeat, a log line).
/// </summary>
internal sealed class ProgressThrottle(IProgress<ImageFetchProgress>? sink, TimeProvider time, TimeSpan interval)
{
    private DateTimeOffset? _last;

    public void Report(long done, long? total, bool force = false)
    {
        if (sink is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        if (!force && _last is { } last && now - last < interval)
        {
            return;
        }

        _last = now;
        sink.Report(new ImageFetchProgress(done, total));
    }
}
