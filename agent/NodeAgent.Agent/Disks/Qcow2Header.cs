using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace NodeAgent.Agent.Disks;

/// <summary>
/// The one field of a qcow2 header the agent needs: the virtual size, the disk size the guest sees. Read from
/// the file's first 32 bytes, so knowing a disk's size costs one read, not a qemu-img process.
/// </summary>
/// <remarks>
/// The header is big-endian: magic <c>QFI\xfb</c> at 0, version (2 or 3) at 4, backing file offset and size,
/// cluster bits, then the virtual size as 8 bytes at offset 24 (QEMU's docs/interop/qcow2.txt).
/// </remarks>
public static class Qcow2Header
{
    private const int Length = 32;
    private const uint Magic = 0x514649fb;

    /// <summary>Whether <paramref name="header"/> (a file's first bytes) starts a qcow2 header of a version QEMU writes.</summary>
    public static bool IsQcow2(ReadOnlySpan<byte> header) =>
        header.Length >= 8
        && BinaryPrimitives.ReadUInt32BigEndian(header) == Magic
        && BinaryPrimitives.ReadUInt32BigEndian(header[4..]) is 2 or 3;

    /// <summary>The virtual size in the header at the start of <paramref name="path"/>, or false when it has no qcow2 header.</summary>
    /// <exception cref="IOException">The file cannot be opened or read (missing, no permission).</exception>
    public static bool TryReadVirtualSize(string path, out long virtualSize)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return TryReadVirtualSize(handle, out virtualSize);
    }

    /// <summary>As <see cref="TryReadVirtualSize(string, out long)"/>, on an open file.</summary>
    public static bool TryReadVirtualSize(SafeFileHandle file, out long virtualSize)
    {
        Span<byte> header = stackalloc byte[Length];
        var read = 0;
        while (read < Length)
        {
            var n = RandomAccess.Read(file, header[read..], read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        virtualSize = 0;
        if (read < Length || !IsQcow2(header))
        {
            return false;
        }

        var size = BinaryPrimitives.ReadUInt64BigEndian(header[24..]);
        if (size > long.MaxValue)
        {
            return false;
        }

        virtualSize = (long)size;
        return true;
    }
}
