using System.Text;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Agent.Contextualization;

/// <summary>
/// Builds a seed's ISO 9660 image, volume label <c>cidata</c> with Rock Ridge and Joliet names, as cloud-init's
/// NoCloud documentation makes it: <c>genisoimage -output seed.iso -volid cidata -joliet -rock user-data meta-data network-config</c>.
/// </summary>
public sealed class SeedImage(CommandRunner runner)
{
    public const string FileName = "seed.iso";

    public const string VolumeLabel = "cidata";

    private static readonly TimeSpan GenisoimageTimeout = TimeSpan.FromMinutes(1);

    private static readonly UnixFileMode ReadableByAll =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static string PathIn(string directory) => Path.Combine(directory, FileName);

    /// <summary>
    /// Writes <c>seed.iso</c> into <paramref name="directory"/> (which must exist) and returns its path. The ISO is
    /// built under a temporary name and renamed, so a crash never leaves a half-written one that looks ready; the
    /// files it is made from go in a scratch directory beside it, removed afterwards.
    /// </summary>
    public async Task<string> BuildAsync(NoCloudSeed seed, string directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seed);
        var files = NoCloudFiles.Write(seed);
        var iso = PathIn(directory);
        var partial = iso + ".partial";
        var scratch = ScratchDirectory(directory);
        try
        {
            RemoveLeftovers(directory);
            Directory.CreateDirectory(scratch);
            var userData = Path.Combine(scratch, NoCloudFiles.UserDataName);
            var metaData = Path.Combine(scratch, NoCloudFiles.MetaDataName);
            var networkConfig = Path.Combine(scratch, NoCloudFiles.NetworkConfigName);
            var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
            await File.WriteAllTextAsync(userData, files.UserData, utf8, cancellationToken);
            await File.WriteAllTextAsync(metaData, files.MetaData, utf8, cancellationToken);
            await File.WriteAllTextAsync(networkConfig, files.NetworkConfig, utf8, cancellationToken);

            // A file named on the command line lands in the image's root under its own name.
            await runner.RunCheckedAsync(
                "genisoimage",
                ["-quiet", "-output", partial, "-volid", VolumeLabel, "-joliet", "-rock", userData, metaData, networkConfig],
                GenisoimageTimeout,
                cancellationToken);
            if (OperatingSystem.IsLinux())
            {
                // QEMU runs as its own user and must read the seed whatever the agent's umask is.
                File.SetUnixFileMode(partial, ReadableByAll);
            }

            File.Move(partial, iso, overwrite: true);
        }
        catch (CommandException e)
        {
            throw new SeedException($"building the NoCloud seed of workspace {seed.InstanceId} failed: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new SeedException($"writing the NoCloud seed of workspace {seed.InstanceId} into {directory} failed: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new SeedException($"writing the NoCloud seed of workspace {seed.InstanceId} into {directory} failed: {e.Message}", e);
        }
        finally
        {
            TryRemoveLeftovers(directory);
        }

        return iso;
    }

    /// <summary>Removes the seed and anything a build left behind; nothing there is fine.</summary>
    public static void Remove(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        RemoveLeftovers(directory);
        File.Delete(PathIn(directory));
    }

    private static string ScratchDirectory(string directory) => Path.Combine(directory, "seed.files.partial");

    private static void TryRemoveLeftovers(string directory)
    {
        try
        {
            RemoveLeftovers(directory);
        }
        catch (IOException)
        {
            // The build's own error says what went wrong; the next build or the clean-up removes what is left.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void RemoveLeftovers(string directory)
    {
        File.Delete(PathIn(directory) + ".partial");
        var scratch = ScratchDirectory(directory);
        if (Directory.Exists(scratch))
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
