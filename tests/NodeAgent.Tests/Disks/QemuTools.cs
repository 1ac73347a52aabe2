using System.Globalization;
using System.Text.Json;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Tests.Disks;

/// <summary>The real qemu-img and qemu-io (qemu-utils), for making base images and looking at disks from outside.</summary>
internal sealed class QemuTools
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public CommandRunner Runner { get; } = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);

    public Task CreateQcow2Async(string path, long bytes) =>
        Runner.RunCheckedAsync("qemu-img", ["create", "-q", "-f", "qcow2", path, bytes.ToString(CultureInfo.InvariantCulture)], Timeout, default);

    /// <summary>A raw file of <paramref name="bytes"/> (sparse beyond its content) that starts with <paramref name="content"/>.</summary>
    public static void CreateRaw(string path, long bytes, ReadOnlySpan<byte> content)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.Write(content);
        file.SetLength(bytes);
    }

    /// <summary><paramref name="raw"/> converted to a qcow2 at <paramref name="path"/>: a qcow2 base with real content.</summary>
    public Task ConvertToQcow2Async(string raw, string path) =>
        Runner.RunCheckedAsync("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, path], Timeout, default);

    public async Task<JsonElement> InfoAsync(string path)
    {
        var json = await Runner.RunCheckedAsync("qemu-img", ["info", "--output=json", "-U", path], Timeout, default);
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    /// <summary>The first <paramref name="bytes"/> the guest would read from the qcow2 <paramref name="disk"/>, through its backing chain.</summary>
    public async Task<byte[]> ReadAsync(string disk, int bytes)
    {
        var output = disk + ".read-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            await Runner.RunCheckedAsync("qemu-img", ["dd", "-f", "qcow2", "-O", "raw", $"bs={bytes}", "count=1", $"if={disk}", $"of={output}"], Timeout, default);
            // qemu-img dd may make its output as large as the input; only the first bytes were copied.
            return File.ReadAllBytes(output)[..bytes];
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> of pattern data at offset 0 of the qcow2 <paramref name="disk"/>, as a guest would.</summary>
    public Task WriteAsync(string disk, long bytes) =>
        Runner.RunCheckedAsync("qemu-io", ["-f", "qcow2", "-c", $"write -P 0x5a 0 {bytes.ToString(CultureInfo.InvariantCulture)}", disk], Timeout, default);

    /// <summary>What <c>du</c> says the tree at <paramref name="path"/> occupies, in bytes.</summary>
    public async Task<long> DuAsync(string path)
    {
        var output = await Runner.RunCheckedAsync("du", ["-s", "-B1", path], Timeout, default);
        return long.Parse(output.Split('\t')[0], CultureInfo.InvariantCulture);
    }
}
