using System.Globalization;
using NodeAgent.Contract;

namespace NodeAgent.Scheduler.Domain;

/// <summary>What a catalogue image's bytes are.</summary>
public enum ImageFormat
{
    /// <summary>A disk image workspaces boot from; their root disk is a qcow2 overlay on it.</summary>
    Qcow2,
    Raw,

    /// <summary>A Linux kernel, for disk images booted with a kernel from outside the disk.</summary>
    Kernel,
    Initrd,
}

/// <summary>Whether new leases may use an image version.</summary>
public enum ImageState
{
    Active,

    /// <summary>No new lease may use it; leases made with it keep running.</summary>
    Retired,
}

/// <summary>
/// One image version, or a name alone: "NAME" (version 0, read as the newest active version) or
/// "NAME:VERSION". Names follow <see cref="IdSyntax"/>, which has no ':', so the split is unambiguous.
/// </summary>
public readonly record struct ImageKey(string Name, uint Version)
{
    /// <summary>Whether this names one exact version rather than "the newest active one".</summary>
    public bool IsExact => Version > 0;

    public static bool TryParse(string? text, out ImageKey key, out string problem)
    {
        key = default;
        text ??= string.Empty;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? text : text[..colon];
        if (!IdSyntax.IsValid(name, out problem))
        {
            problem = $"name {problem}";
            return false;
        }

        uint version = 0;
        if (colon >= 0 && (!uint.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out version) || version == 0))
        {
            problem = $"'{IdSyntax.Printable(text)}' has no valid version after ':'; write NAME or NAME:VERSION with VERSION a whole number from 1";
            return false;
        }

        key = new ImageKey(name, version);
        return true;
    }

    public static ImageKey Parse(string text) =>
        TryParse(text, out var key, out var problem) ? key : throw new FormatException($"image {problem}");

    public override string ToString() => IsExact ? $"{Name}:{Version.ToString(CultureInfo.InvariantCulture)}" : Name;
}

/// <summary>An image as asked to be added: the catalogue gives it its version and resolves its kernel and initrd.</summary>
/// <param name="Kernel">The kernel image; version 0 is resolved to the newest active version when the image is added.</param>
/// <param name="SavedFromLease">The lease the image was saved from; empty for an image added by URL.</param>
public sealed record NewImage(
    string Name,
    ImageFormat Format,
    long SizeBytes,
    string Sha256,
    string Url,
    string Owner,
    ImageKey? Kernel = null,
    ImageKey? Initrd = null,
    string KernelCmdline = "",
    string Description = "",
    string SavedFromLease = "");

/// <summary>One version of a catalogue image. Kernel and initrd are exact versions, fixed when it was added.</summary>
/// <param name="SizeBytes">0 when unknown; agents then learn it from the download.</param>
public sealed record Image(
    string Name,
    uint Version,
    ImageFormat Format,
    long SizeBytes,
    string Sha256,
    string Url,
    string Owner,
    ImageState State,
    ImageKey? Kernel,
    ImageKey? Initrd,
    string KernelCmdline,
    string Description,
    string SavedFromLease,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RetiredAt)
{
    public ImageKey Key => new(Name, Version);

    public bool IsActive => State == ImageState.Active;

    /// <summary>Whether workspaces boot from it (as opposed to a kernel or initrd).</summary>
    public bool IsDisk => Format is ImageFormat.Qcow2 or ImageFormat.Raw;
}

/// <summary>The rules on which images may name a kernel, an initrd and a kernel command line.</summary>
public static class ImageShape
{
    /// <summary>Every way the combination breaks the rules, by what is present (not by whether its values are valid).</summary>
    public static IReadOnlyList<string> Problems(ImageFormat format, bool hasKernel, bool hasInitrd, bool hasCommandLine)
    {
        var problems = new List<string>();
        var disk = format is ImageFormat.Qcow2 or ImageFormat.Raw;
        if (!disk && (hasKernel || hasInitrd))
        {
            problems.Add($"{(format == ImageFormat.Initrd ? "an" : "a")} {Name(format)} image cannot name a kernel or initrd; only disk images (qcow2, raw) boot with an outside kernel");
        }

        if (disk && hasInitrd && !hasKernel)
        {
            problems.Add("initrd is given without a kernel; an initrd boots only with an outside kernel, so give the kernel too");
        }

        if (hasCommandLine && !hasKernel)
        {
            problems.Add("kernel_cmdline is given without a kernel; the command line goes to an outside kernel, so give the kernel too or drop it");
        }

        return problems;
    }

    public static string Name(ImageFormat format) => format.ToString().ToLowerInvariant();
}
