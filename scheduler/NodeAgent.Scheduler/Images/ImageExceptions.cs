using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;

namespace NodeAgent.Scheduler.Images;

/// <summary>The catalogue has no such image name or version; the message says how to see and add images.</summary>
public sealed class ImageNotFoundException(string name, uint version = 0) : Exception(Describe(name, version))
{
    public string Name { get; } = name;

    /// <summary>The version asked for; 0 when the name alone was.</summary>
    public uint Version { get; } = version;

    private static string Describe(string name, uint version)
    {
        var shown = IdSyntax.Printable(name);
        var what = version == 0 ? $"image {shown} is not in the catalogue" : $"image {shown} has no version {version}";
        return $"{what}; `ws image list --all` shows the catalogue, and an admin adds an image with `ws image add {shown} --url URL --sha256 HEX`";
    }
}

/// <summary>The image version is retired, so no new lease may use it; the message names the active version to use instead, if any.</summary>
public sealed class ImageRetiredException(ImageKey retired, ImageKey? newestActive) : Exception(Describe(retired, newestActive))
{
    /// <summary>What was asked for: an exact version, or a name (version 0) whose every version is retired.</summary>
    public ImageKey Retired { get; } = retired;

    public ImageKey? NewestActive { get; } = newestActive;

    private static string Describe(ImageKey retired, ImageKey? newestActive) => (retired.IsExact, newestActive) switch
    {
        (true, { } newer) => $"image {retired} is retired; use {newer}, the newest active version (or just {newer.Name})",
        (true, null) => $"image {retired} is retired and {retired.Name} has no active version; `ws image list --all {retired.Name}` shows its versions, and an admin adds a new one with `ws image add {retired.Name} --url URL --sha256 HEX`",
        _ => $"every version of image {retired.Name} is retired; `ws image list --all {retired.Name}` shows them, and an admin adds a new one with `ws image add {retired.Name} --url URL --sha256 HEX`",
    };
}

/// <summary>An image to add breaks the catalogue's rules (a value, or a kernel or initrd it names that is missing, retired or of the wrong format); lists every problem.</summary>
public sealed class InvalidImageException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
