namespace NodeAgent.Agent.Images;

/// <summary>
/// A base image on this host: its disk (qcow2 or raw, as <paramref name="Format"/> says — the overlay on it names
/// that format, so nothing ever guesses it from the bytes), and for images that boot a kernel directly (such as
/// the test guest) the kernel, initrd and kernel command line beside it.
/// </summary>
public sealed record BaseImage(string Name, string DiskPath, string? KernelPath, string? InitrdPath, string? KernelCommandLine, ImageFormat Format = ImageFormat.Qcow2);

/// <summary>
/// The images cached on this host, one directory each under the images directory:
/// <c>NAME/disk.qcow2</c>, optionally <c>vmlinuz</c>, <c>initrd.img</c> and <c>cmdline</c>.
/// </summary>
public sealed class ImageStore(string directory)
{
    public const string DiskFile = "disk.qcow2";

    public string Directory { get; } = directory;

    /// <summary>The image, or null when it is not cached here.</summary>
    public BaseImage? Find(string name)
    {
        if (!Contract.IdSyntax.IsValid(name, out _))
        {
            return null;
        }

        var root = Path.Combine(Directory, name);
        var disk = Path.Combine(root, DiskFile);
        if (!File.Exists(disk))
        {
            return null;
        }

        var kernel = Path.Combine(root, "vmlinuz");
        var initrd = Path.Combine(root, "initrd.img");
        var cmdline = Path.Combine(root, "cmdline");
        return new BaseImage(
            name,
            disk,
            File.Exists(kernel) ? kernel : null,
            File.Exists(initrd) ? initrd : null,
            File.Exists(cmdline) ? File.ReadAllText(cmdline).Trim() : null);
    }

    public IReadOnlyList<string> List() =>
        System.IO.Directory.Exists(Directory)
            ? System.IO.Directory.GetDirectories(Directory).Select(Path.GetFileName).OfType<string>().Where(n => Find(n) is not null).Order(StringComparer.Ordinal).ToList()
            : [];
}
