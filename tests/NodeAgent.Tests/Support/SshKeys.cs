using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace NodeAgent.Tests.Support;

/// <summary>SSH public keys for tests: real ones from OpenSSH's ssh-keygen, and hand-built blobs for what ssh-keygen never writes.</summary>
internal static class SshKeys
{
    /// <summary>Makes a key pair with ssh-keygen in <paramref name="directory"/> and returns the public key file's path.</summary>
    public static string Generate(string directory, string name, string type = "ed25519", string comment = "alice@laptop", int? bits = null)
    {
        var path = Path.Combine(directory, name);
        List<string> arguments = ["-q", "-t", type, "-N", string.Empty, "-C", comment, "-f", path];
        if (bits is { } b)
        {
            arguments.AddRange(["-b", b.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }

        using var process = Process.Start(new ProcessStartInfo("ssh-keygen", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new InvalidOperationException("cannot start ssh-keygen; install openssh-client (`make test` does)");
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? path + ".pub" : throw new InvalidOperationException($"ssh-keygen failed: {stderr}");
    }

    /// <summary>A key line whose blob names <paramref name="blobType"/>, for keys whose line and data disagree.</summary>
    public static string Line(string type, string blobType, string comment = "alice@laptop", byte fill = 7)
    {
        var name = Encoding.ASCII.GetBytes(blobType);
        var blob = new byte[4 + name.Length + 4 + 32];
        BinaryPrimitives.WriteUInt32BigEndian(blob, (uint)name.Length);
        name.CopyTo(blob, 4);
        BinaryPrimitives.WriteUInt32BigEndian(blob.AsSpan(4 + name.Length), 32);
        blob.AsSpan(8 + name.Length).Fill(fill);
        return $"{type} {Convert.ToBase64String(blob)}" + (comment.Length == 0 ? string.Empty : " " + comment);
    }

    /// <summary>A well-formed ed25519 key line; <paramref name="fill"/> makes different keys.</summary>
    public static string Ed25519(string comment = "alice@laptop", byte fill = 7) => Line("ssh-ed25519", "ssh-ed25519", comment, fill);
}
