using System.Globalization;
using System.Runtime.InteropServices;

namespace NodeAgent.Agent.Images;

/// <summary>
/// The filesystem calls the image cache needs beyond <see cref="File"/>: modes QEMU can read, fsync of a file
/// and of a directory (so a rename survives a crash), free space, and recognising a full disk.
/// </summary>
internal static partial class CacheFiles
{
    /// <summary>rwxr-xr-x: QEMU runs as its own user (libvirt-qemu) and must reach the images.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>rw-r--r--: readable by QEMU; nothing writes a verified image again.</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private const int ENOSPC = 28;
    private const int EDQUOT = 122;
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;

    /// <summary>True for "No space left on device" (and a full disk quota, which the operator fixes the same way).</summary>
    public static bool IsDiskFull(IOException e) => e.HResult is ENOSPC or EDQUOT;

    /// <summary>Creates the directory (and parents) with <see cref="DirectoryMode"/>, whatever the umask.</summary>
    public static void CreateDirectory(string path)
    {
        Directory.CreateDirectory(path);
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(path, DirectoryMode);
        }
    }

    public static void SetFileMode(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(path, FileMode);
        }
    }

    /// <summary>Bytes an unprivileged writer may still use on the filesystem holding <paramref name="directory"/>.</summary>
    public static long FreeBytes(string directory) => new DriveInfo(directory).AvailableFreeSpace;

    /// <summary>Flushes the file's data and metadata to the disk (fsync).</summary>
    public static void SyncFile(string path)
    {
        using var file = new FileStream(path, System.IO.FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        file.Flush(flushToDisk: true);
    }

    /// <summary>fsync of a directory, so that a rename or unlink in it survives a crash.</summary>
    public static void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {path} to sync it: errno {Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture)}");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {path} failed: errno {Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture)}");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>True for a 64-hex-digit name: only verified images have such a name in the cache.</summary>
    public static bool IsDigest(ReadOnlySpan<char> name)
    {
        if (name.Length != 64)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
