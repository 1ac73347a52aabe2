using System.Runtime.InteropServices;

namespace NodeAgent.Agent.Disks;

/// <summary>
/// The bytes a file really occupies on the host's filesystem (st_blocks × 512, as <c>du</c> counts them), which
/// for a sparse disk image is far less than its length. .NET exposes no block count, so this asks the kernel with
/// statx(2) through glibc: its struct has the same layout on every architecture, unlike struct stat.
/// </summary>
public static partial class HostFileSpace
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBlocks = 0x400;

    /// <summary>
    /// The bytes <paramref name="path"/> itself occupies — a symbolic link counts as the link, never its target —
    /// or null when it does not exist (or vanished while being looked at).
    /// </summary>
    /// <exception cref="IOException">The kernel refused for another reason (no permission, I/O error); the message names the path.</exception>
    public static long? OccupiedBytes(string path)
    {
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBlocks, out var status) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            const int ENOENT = 2, ENOTDIR = 20;
            if (errno is ENOENT or ENOTDIR)
            {
                return null;
            }

            throw new IOException($"cannot read how much space {path} occupies: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); check that the agent can reach it");
        }

        // A filesystem that keeps no block count (rare: some network filesystems) leaves the bit clear; its length is the best bound there is.
        return (status.Mask & StatxBlocks) != 0 ? checked((long)status.Blocks * 512) : (long)status.Size;
    }

    /// <summary>struct statx (linux/stat.h), up to the fields read here; 256 bytes in all.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatxBuffer
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint LinkCount;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        public ushort Spare0;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, out StatxBuffer buffer);
}
