using NodeAgent.Contract;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Agent.Images;

/// <summary>What an image's bytes are.</summary>
public enum ImageFormat
{
    Qcow2,
    Raw,
    Kernel,
    Initrd,
}

/// <summary>
/// One catalogue image version, as a workspace spec names it: where its bytes are and the digest they must
/// have. <see cref="SizeBytes"/> is 0 when the catalogue does not know the size.
/// </summary>
public sealed record ImageSource(string Name, uint Version, string Sha256, ImageFormat Format, long SizeBytes, Uri Url)
{
    public override string ToString() => $"{Name}:{Version}";

    /// <summary>Reads one image reference, adding every problem (prefixed with <paramref name="field"/>) to <paramref name="problems"/>; null if any.</summary>
    public static ImageSource? FromWire(V1.ImageRef? wire, string field, List<string> problems)
    {
        if (wire is null)
        {
            problems.Add($"{field} is missing");
            return null;
        }

        var before = problems.Count;
        if (!IdSyntax.IsValid(wire.Name, out var nameProblem))
        {
            problems.Add($"{field} name {nameProblem}");
        }

        if (!ImageSyntax.IsValidSha256(wire.Sha256, out var digestProblem))
        {
            problems.Add($"{field} {wire.Name} sha256 {digestProblem}; the scheduler must send the catalogue's digest");
        }

        if (!ImageSyntax.TryParseSource(wire.Url, out var url, out var urlProblem))
        {
            problems.Add($"{field} {wire.Name} url {urlProblem}");
        }

        if (wire.SizeBytes > ImageSyntax.MaxSizeBytes)
        {
            problems.Add($"{field} {wire.Name} size {wire.SizeBytes} bytes is over {ImageSyntax.MaxSizeBytes}");
        }

        ImageFormat? format = wire.Format switch
        {
            V1.ImageFormat.Unspecified or V1.ImageFormat.Qcow2 => ImageFormat.Qcow2,
            V1.ImageFormat.Raw => ImageFormat.Raw,
            V1.ImageFormat.Kernel => ImageFormat.Kernel,
            V1.ImageFormat.Initrd => ImageFormat.Initrd,
            _ => null,
        };
        if (format is null)
        {
            problems.Add($"{field} {wire.Name} format {(int)wire.Format} is not one this agent knows (qcow2, raw, kernel, initrd)");
        }

        return problems.Count == before ? new ImageSource(wire.Name, wire.Version, wire.Sha256, format!.Value, (long)wire.SizeBytes, url!) : null;
    }
}

/// <summary>
/// The images a workspace boots from: its disk image and, for a disk booted with an outside kernel, the
/// kernel, the initrd and the kernel command line.
/// </summary>
public sealed record WorkspaceImage(ImageSource Disk, ImageSource? Kernel, ImageSource? Initrd, string? KernelCommandLine)
{
    /// <summary>Every image to fetch, the disk first.</summary>
    public IEnumerable<ImageSource> All => new[] { Disk, Kernel, Initrd }.OfType<ImageSource>();

    public static WorkspaceImage? FromWire(V1.ImageRef? wire, List<string> problems)
    {
        var before = problems.Count;
        var disk = ImageSource.FromWire(wire, "image", problems);
        if (disk is not null && disk.Format is not (ImageFormat.Qcow2 or ImageFormat.Raw))
        {
            problems.Add($"image {disk} is a {disk.Format.ToString().ToLowerInvariant()}, not a disk image (qcow2 or raw)");
        }

        var kernel = wire?.Kernel is { } k ? ImageSource.FromWire(k, "kernel", problems) : null;
        var initrd = wire?.Initrd is { } i ? ImageSource.FromWire(i, "initrd", problems) : null;
        if (initrd is not null && kernel is null)
        {
            problems.Add("an initrd without a kernel cannot boot; the image needs a kernel too");
        }

        var cmdline = string.IsNullOrEmpty(wire?.KernelCmdline) ? null : wire.KernelCmdline;
        if (!ImageSyntax.IsValidKernelCommandLine(cmdline, out var cmdlineProblem))
        {
            problems.Add($"kernel command line {cmdlineProblem}");
        }

        return problems.Count == before ? new WorkspaceImage(disk!, kernel, initrd, cmdline) : null;
    }
}
