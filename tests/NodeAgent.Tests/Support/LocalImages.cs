using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using NodeAgent.Agent.Disks;
using NodeAgent.Agent.Images;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Tests.Support;

/// <summary>
/// Real images for agent tests without a scheduler: a qcow2 made with qemu-img, known by its real sha256 and a
/// file:// URL, and a real image cache that fetches (copies) and verifies it on first use.
/// </summary>
internal static class LocalImages
{
    /// <summary>Makes a blank qcow2 of <paramref name="virtualBytes"/> under <paramref name="directory"/> and describes it as a catalogue would.</summary>
    public static async Task<WorkspaceImage> CreateAsync(string directory, string name = "tiny", long virtualBytes = 16L << 20)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".qcow2");
        var runner = new CommandRunner(NullLogger<CommandRunner>.Instance);
        await runner.RunCheckedAsync("qemu-img", ["create", "-q", "-f", "qcow2", path, virtualBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30), default);
        return await CreateFromFileAsync(path, name);
    }

    /// <summary>Describes an existing qcow2 file as a catalogue would: its real digest and size, a file:// URL.</summary>
    public static async Task<WorkspaceImage> CreateFromFileAsync(string path, string name)
    {
        var bytes = await File.ReadAllBytesAsync(path);
        var source = new ImageSource(name, 1, Convert.ToHexStringLower(SHA256.HashData(bytes)), ImageFormat.Qcow2, bytes.Length, new Uri("file://" + path));
        return new WorkspaceImage(source, null, null, null);
    }

    /// <summary>Adds the image to the catalogue of the scheduler behind <paramref name="channel"/>, as its name's next version.</summary>
    public static Task<NodeAgent.Contract.V1.Image> RegisterAsync(NodeAgent.Rpc.Client.RpcChannel channel, WorkspaceImage image) =>
        new NodeAgent.Contract.V1.ImageServiceClient(channel).AddImageAsync(new NodeAgent.Contract.V1.AddImageRequest
        {
            Name = image.Disk.Name,
            Url = image.Disk.Url.AbsoluteUri,
            Sha256 = image.Disk.Sha256,
            SizeBytes = (ulong)image.Disk.SizeBytes,
        });

    /// <summary>The image cache an agent with these disks would have, in <paramref name="directory"/>.</summary>
    public static ImageCache Cache(string directory, DiskManager disks) => new(
        directory, 1L << 30, disks.DigestsInUse,
        new ImageFetcher(ImageFetcher.CreateHttpClient(), new ImageFetcherOptions { MaxAttempts = 2, RetryDelay = _ => TimeSpan.Zero }, TimeProvider.System, NullLogger<ImageFetcher>.Instance),
        TimeProvider.System, NullLogger<ImageCache>.Instance);
}
