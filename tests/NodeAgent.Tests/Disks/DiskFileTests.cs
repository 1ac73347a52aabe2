using NodeAgent.Agent.Disks;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Disks;

/// <summary>The readers <see cref="DiskManager.Measure"/> stands on, against files made by qemu-img and the kernel.</summary>
public sealed class DiskFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly QemuTools _qemu = new();

    public void Dispose() => _dir.Dispose();

    [Theory(Timeout = 30_000)]
    [InlineData(1L << 20)]
    [InlineData(10L << 30)]
    [InlineData((1L << 50) - 512)]
    public async Task Qcow2Header_FileFromQemuImg_VirtualSizeAsQemuImgSays(long bytes)
    {
        var path = Path.Combine(_dir.Path, "d.qcow2");
        await _qemu.CreateQcow2Async(path, bytes);

        Assert.True(Qcow2Header.TryReadVirtualSize(path, out var size));
        Assert.Equal((await _qemu.InfoAsync(path)).GetProperty("virtual-size").GetInt64(), size);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(4096)]
    public void Qcow2Header_RawOrShortFile_NotQcow2(int length)
    {
        var path = Path.Combine(_dir.Path, "d.raw");
        var content = new byte[length];
        if (length >= 4)
        {
            new byte[] { (byte)'Q', (byte)'F', (byte)'I', 0xfb }.CopyTo(content, 0);
        }

        File.WriteAllBytes(path, content);

        Assert.False(Qcow2Header.TryReadVirtualSize(path, out var size));
        Assert.Equal(0, size);
    }

    [Fact]
    public void Qcow2Header_MissingFile_Throws() =>
        Assert.ThrowsAny<IOException>(() => Qcow2Header.TryReadVirtualSize(Path.Combine(_dir.Path, "missing"), out _));

    [Fact]
    public void OccupiedBytes_SparseFileThenWritten_CountsOnlyRealBlocks()
    {
        var path = Path.Combine(_dir.Path, "sparse");
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            file.SetLength(1L << 30);
        }

        var sparse = HostFileSpace.OccupiedBytes(path);
        using (var file = new FileStream(path, FileMode.Open))
        {
            file.Write(Enumerable.Repeat((byte)1, 1 << 20).ToArray());
        }

        var written = HostFileSpace.OccupiedBytes(path);

        Assert.InRange(sparse!.Value, 0, 64 << 10);
        Assert.InRange(written!.Value, 1L << 20, (1L << 20) + (64 << 10));
    }

    [Fact]
    public void OccupiedBytes_MissingOrUnderAFile_Null()
    {
        var file = Path.Combine(_dir.Path, "f");
        File.WriteAllText(file, "x");

        Assert.Null(HostFileSpace.OccupiedBytes(Path.Combine(_dir.Path, "missing")));
        Assert.Null(HostFileSpace.OccupiedBytes(Path.Combine(file, "under")));
    }

    [Fact]
    public void OccupiedBytes_SymlinkToALargeFile_CountsTheLinkNotItsTarget()
    {
        var target = Path.Combine(_dir.Path, "big");
        File.WriteAllBytes(target, new byte[4 << 20]);
        var link = Path.Combine(_dir.Path, "link");
        File.CreateSymbolicLink(link, target);

        Assert.True(HostFileSpace.OccupiedBytes(target) >= 4 << 20);
        Assert.True(HostFileSpace.OccupiedBytes(link) < 64 << 10);
    }
}
