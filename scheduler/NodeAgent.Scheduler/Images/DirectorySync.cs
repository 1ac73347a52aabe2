using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NodeAgent.Scheduler.Images;

/// <summary>
/// fsync(2) of a directory, so a rename into it survives a power cut. .NET opens no directory as a file, hence
/// libc's open, fsync and close. Every parameter is blittable (the path goes over as a pointer to UTF-8), so
/// plain <see cref="DllImportAttribute"/> needs no marshalling code, no unsafe blocks, and works under native AOT.
/// </summary>
internal static class DirectorySync
{
    private const string LibC = "libc";
    private const int ReadOnly = 0; // O_RDONLY
    private const int Directory = 0x10000; // O_DIRECTORY on x86_64 and aarch64 Linux
    private const int CloseOnExec = 0x80000; // O_CLOEXEC

    /// <summary>Flushes the directory entry list of <paramref name="path"/> to disk; throws <see cref="IOException"/> on failure.</summary>
    public static void Flush(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // the flag values below are Linux's; the scheduler ships for Linux only
        }

        var name = Marshal.StringToCoTaskMemUTF8(path);
        try
        {
            var fd = open(name, ReadOnly | Directory | CloseOnExec);
            if (fd < 0)
            {
                throw Failure("open", path);
            }

            try
            {
                if (fsync(fd) < 0)
                {
                    throw Failure("fsync", path);
                }
            }
            finally
            {
                _ = close(fd);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(name);
        }
    }

    private static IOException Failure(string call, string path)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} of directory {path} failed: {new Win32Exception(errno).Message}", errno);
    }

#pragma warning disable IDE1006 // libc's own names
    [DllImport(LibC, SetLastError = true, ExactSpelling = true)]
    private static extern int open(nint path, int flags);

    [DllImport(LibC, SetLastError = true, ExactSpelling = true)]
    private static extern int fsync(int fd);

    [DllImport(LibC, ExactSpelling = true)]
    private static extern int close(int fd);
#pragma warning restore IDE1006
}
