using Microsoft.Extensions.Logging;
using NodeAgent.Contract;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Store;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// The image catalogue: which image versions exist, which are active, and what each boots with. The source
/// of truth for resolving a lease's image name to the exact bytes (digest, URL) its host must fetch.
/// Every change happens in one store transaction; a kernel or initrd named by an image is fixed to an exact
/// version when the image is added, so an image boots the same way for as long as it exists.
/// </summary>
public sealed partial class ImageCatalogue(IImageStore store, TimeProvider time, ILogger<ImageCatalogue> logger)
{
    private readonly ResolvedImages _resolved = new(time);

    /// <summary>Images ordered by name, then version from the newest; retired ones only when asked for.</summary>
    public IReadOnlyList<Image> List(bool includeRetired, string? name = null) =>
        store.Read(s => s.List(includeRetired, string.IsNullOrEmpty(name) ? null : name));

    /// <summary>One version (a retired one too), or with <paramref name="version"/> 0 the newest active one.</summary>
    /// <exception cref="ImageNotFoundException">No such name or version.</exception>
    /// <exception cref="ImageRetiredException">Version 0 was asked for and every version is retired.</exception>
    public Image Get(string name, uint version) => store.Read(s => Select(s, name, version, requireActive: false));

    /// <summary>
    /// The image a new lease boots from, with its kernel and initrd, as the agent needs it: digest, format,
    /// size and URL of each. Version 0 is the newest active version. The kernel and initrd are the exact
    /// versions the image was added with, even if they have been retired since.
    /// </summary>
    /// <exception cref="ImageNotFoundException">No such name or version.</exception>
    /// <exception cref="ImageRetiredException">The version is retired (the message names the newest active one), or every version is.</exception>
    /// <remarks>Read from the catalogue at most once a second per name and version (<see cref="ResolvedImages"/>).</remarks>
    public V1.ImageRef ResolveForLease(string name, uint version) => _resolved.Get(name, version, () => store.Read(s =>
    {
        var image = Select(s, name, version, requireActive: true);
        var reference = ToRef(image);
        reference.Kernel = image.Kernel is { } kernel ? ToRef(Pinned(s, kernel)) : null;
        reference.Initrd = image.Initrd is { } initrd ? ToRef(Pinned(s, initrd)) : null;
        reference.KernelCmdline = image.KernelCmdline;
        return reference;
    }));

    /// <summary>What is wrong with the values of an image to add, each naming its field; nothing read from the store.</summary>
    public static IReadOnlyList<string> FieldProblems(NewImage image)
    {
        var problems = new List<string>();
        Check(problems, "name", IdSyntax.IsValid(image.Name, out var p), p);
        Check(problems, "sha256", ImageSyntax.IsValidSha256(image.Sha256, out p), p);
        Check(problems, "url", ImageSyntax.TryParseSource(image.Url, out _, out p), p);
        Check(problems, "size_bytes", image.SizeBytes >= 0 && (ulong)image.SizeBytes <= ImageSyntax.MaxSizeBytes, $"is {image.SizeBytes}; it must be between 0 and {ImageSyntax.MaxSizeBytes}");
        Check(problems, "kernel_cmdline", ImageSyntax.IsValidKernelCommandLine(image.KernelCmdline, out p), p);
        Check(problems, "description", ImageSyntax.IsValidDescription(image.Description, out p), p);
        Check(problems, "owner", IdSyntax.IsValid(image.Owner, out p), p);
        Check(problems, "saved_from_lease", image.SavedFromLease.Length == 0 || IdSyntax.IsValid(image.SavedFromLease, out p), p);
        return problems;
    }

    /// <summary>What is wrong with the kernel and initrd the image names: missing, retired, or not a kernel / initrd.</summary>
    public IReadOnlyList<string> ReferenceProblems(NewImage image) => store.Read(s => Resolve(s, image, requireActive: true).Problems);

    /// <summary>Adds the image as its name's next version, owned by <see cref="NewImage.Owner"/>.</summary>
    /// <exception cref="InvalidImageException">A value, the kernel/initrd combination, or a kernel or initrd it names is wrong; nothing is stored.</exception>
    public Task<Image> AddAsync(NewImage image, CancellationToken cancellationToken = default) =>
        AddCoreAsync(image, requireActive: true, cancellationToken);

    /// <summary>
    /// Adds a workspace's saved root disk as the name's next version: a qcow2 owned by the lease's owner that
    /// keeps <paramref name="basedOn"/>'s kernel, initrd and command line, so it boots the way the lease did
    /// (even if that kernel has been retired since).
    /// </summary>
    /// <exception cref="InvalidImageException">A value is wrong or <paramref name="basedOn"/>'s kernel or initrd is not in the catalogue; nothing is stored.</exception>
    public Task<Image> AddSaved(
        string name, string owner, string sha256, long sizeBytes, string url, string savedFromLease, V1.ImageRef basedOn, string description,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(basedOn);
        var image = new NewImage(
            name, ImageFormat.Qcow2, sizeBytes, sha256, url, owner, PinnedKey(basedOn.Kernel), PinnedKey(basedOn.Initrd), basedOn.KernelCmdline,
            description.Length > 0 ? description : $"saved from lease {savedFromLease}, based on {basedOn.Name}:{basedOn.Version}",
            savedFromLease);
        return AddCoreAsync(image, requireActive: false, cancellationToken);
    }

    /// <summary>Retires one version, or with <paramref name="version"/> 0 every active version; returns that version (the newest, for 0). Retiring twice changes nothing.</summary>
    /// <exception cref="ImageNotFoundException">No such name or version.</exception>
    public async Task<Image> RetireAsync(string name, uint version, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var (image, changed) = await store.WriteAsync(s =>
        {
            var target = version == 0
                ? s.Newest(name) ?? throw new ImageNotFoundException(name)
                : s.Find(name, version) ?? throw new ImageNotFoundException(name, version);
            var changed = s.Retire(name, version, now);
            return (s.Find(name, target.Version)!, changed);
        }, cancellationToken);
        _resolved.Changed();
        if (changed > 0)
        {
            LogRetired(logger, name, version, changed);
        }

        return image;
    }

    private async Task<Image> AddCoreAsync(NewImage image, bool requireActive, CancellationToken cancellationToken)
    {
        var problems = FieldProblems(image)
            .Concat(ImageShape.Problems(image.Format, image.Kernel is not null, image.Initrd is not null, image.KernelCmdline.Length > 0))
            .ToList();
        if (problems.Count > 0)
        {
            throw new InvalidImageException(problems);
        }

        var now = time.GetUtcNow();
        var added = await store.WriteAsync(s =>
        {
            // Resolved again inside the transaction: a kernel retired since the caller's check is caught here.
            var (resolved, referenceProblems) = Resolve(s, image, requireActive);
            return referenceProblems.Count > 0 ? throw new InvalidImageException(referenceProblems) : s.Insert(resolved, now);
        }, cancellationToken);
        _resolved.Changed();
        LogAdded(logger, added.Name, added.Version, added.Format, added.Owner, added.Sha256);
        return added;
    }

    /// <summary>The image with its kernel and initrd as exact versions, or every problem found resolving them.</summary>
    private static (NewImage Resolved, IReadOnlyList<string> Problems) Resolve(IImageSession s, NewImage image, bool requireActive)
    {
        var problems = new List<string>();
        var kernel = Reference(s, "kernel", image.Kernel, ImageFormat.Kernel, requireActive, problems);
        var initrd = Reference(s, "initrd", image.Initrd, ImageFormat.Initrd, requireActive, problems);
        return (image with { Kernel = kernel, Initrd = initrd }, problems);
    }

    private static ImageKey? Reference(IImageSession s, string field, ImageKey? key, ImageFormat expected, bool requireActive, List<string> problems)
    {
        if (key is not { } k)
        {
            return null;
        }

        var target = k.IsExact ? s.Find(k.Name, k.Version) : s.NewestActive(k.Name);
        var kind = ImageShape.Name(expected);
        if (target is null)
        {
            problems.Add(!k.IsExact && s.Newest(k.Name) is not null
                ? $"{field} {k.Name} has no active version (every version is retired); name an active {kind} (`ws image list --all {k.Name}` shows its versions)"
                : $"{field} {k} is not in the catalogue; add it first with `ws image add {k.Name} --format {kind} --url URL --sha256 HEX`");
            return null;
        }

        if (requireActive && !target.IsActive)
        {
            problems.Add($"{field} {k} is retired; name an active version (`ws image list {k.Name}` shows them)");
            return null;
        }

        if (target.Format != expected)
        {
            problems.Add($"{field} {target.Key} is a {ImageShape.Name(target.Format)} image, not a {kind}; name an image added with --format {kind}");
            return null;
        }

        return target.Key;
    }

    private static Image Select(IImageSession s, string name, uint version, bool requireActive)
    {
        if (version == 0)
        {
            return s.NewestActive(name) ?? throw (s.Newest(name) is null
                ? new ImageNotFoundException(name)
                : new ImageRetiredException(new ImageKey(name, 0), null));
        }

        var image = s.Find(name, version) ?? throw new ImageNotFoundException(name, version);
        return requireActive && !image.IsActive ? throw new ImageRetiredException(image.Key, s.NewestActive(name)?.Key) : image;
    }

    /// <summary>A kernel or initrd an image names; it exists because images are never deleted.</summary>
    private static Image Pinned(IImageSession s, ImageKey key) =>
        s.Find(key.Name, key.Version) ?? throw new ImageNotFoundException(key.Name, key.Version);

    private static ImageKey? PinnedKey(V1.ImageRef? reference) => reference is null ? null : new ImageKey(reference.Name, reference.Version);

    private static V1.ImageRef ToRef(Image image) => new()
    {
        Name = image.Name,
        Version = image.Version,
        Sha256 = image.Sha256,
        Format = ToWire(image.Format),
        SizeBytes = (ulong)image.SizeBytes,
        Url = image.Url,
    };

    public static V1.ImageFormat ToWire(ImageFormat format) => format switch
    {
        ImageFormat.Raw => V1.ImageFormat.Raw,
        ImageFormat.Kernel => V1.ImageFormat.Kernel,
        ImageFormat.Initrd => V1.ImageFormat.Initrd,
        _ => V1.ImageFormat.Qcow2,
    };

    private static void Check(List<string> problems, string field, bool ok, string problem)
    {
        if (!ok)
        {
            problems.Add($"{field} {problem}");
        }
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Image {ImageName}:{ImageVersion} added ({Format}, owner {Owner}, sha256 {Sha256})")]
    private static partial void LogAdded(ILogger logger, string imageName, uint imageVersion, ImageFormat format, string owner, string sha256);

    [LoggerMessage(EventId = 411, Level = LogLevel.Information, Message = "Image {ImageName}: version {ImageVersion} retired (0: every version; {Count} changed)")]
    private static partial void LogRetired(ILogger logger, string imageName, uint imageVersion, int count);
}
