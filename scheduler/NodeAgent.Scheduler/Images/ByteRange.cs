using System.Globalization;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// The part of an image a GET asks for with <c>Range: bytes=…</c> (RFC 9110 §14): one range, as <c>N-</c>,
/// <c>N-M</c> or the suffix <c>-N</c>. Several ranges, other units and malformed headers are ignored, as the
/// RFC allows, and the whole image is sent.
/// </summary>
public readonly record struct ByteRange(long Start, long Length)
{
    public long End => Start + Length - 1;

    /// <summary>What a Range header asks of an image of <paramref name="size"/> bytes.</summary>
    public static RangeRequest Parse(string? header, long size)
    {
        if (string.IsNullOrEmpty(header) || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return RangeRequest.Whole;
        }

        var spec = header.AsSpan(6).Trim();
        var dash = spec.IndexOf('-');
        if (dash < 0 || spec.Contains(','))
        {
            return RangeRequest.Whole;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // "-N": the last N bytes.
            if (!TryParseDigits(last, out var suffix))
            {
                return RangeRequest.Whole;
            }

            return suffix == 0 || size == 0 ? RangeRequest.Unsatisfiable : RangeRequest.Of(new ByteRange(Math.Max(0, size - suffix), Math.Min(suffix, size)));
        }

        if (!TryParseDigits(first, out var start))
        {
            return RangeRequest.Whole;
        }

        var end = size - 1;
        if (!last.IsEmpty)
        {
            if (!TryParseDigits(last, out end) || end < start)
            {
                return RangeRequest.Whole;
            }

            end = Math.Min(end, size - 1);
        }

        return start >= size ? RangeRequest.Unsatisfiable : RangeRequest.Of(new ByteRange(start, end - start + 1));
    }

    private static bool TryParseDigits(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        return !text.IsEmpty && text.IndexOfAnyExceptInRange('0', '9') < 0 &&
            long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>The outcome of reading a Range header: the whole image, one part of it, or a part it does not have.</summary>
public readonly record struct RangeRequest(ByteRange? Range, bool IsUnsatisfiable)
{
    public static RangeRequest Whole => default;

    public static RangeRequest Unsatisfiable => new(null, true);

    public static RangeRequest Of(ByteRange range) => new(range, false);
}
