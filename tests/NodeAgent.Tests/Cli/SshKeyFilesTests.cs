using NodeAgent.Cli;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>Which SSH keys ws sends: --ssh-key files, or every ~/.ssh/id_*.pub of a HOME pointed at a temporary directory.</summary>
public sealed class SshKeyFilesTests : IDisposable
{
    private readonly TempDirectory _home = new();
    private readonly StringWriter _notes = new();

    public void Dispose() => _home.Dispose();

    private string SshDirectory => Directory.CreateDirectory(Path.Combine(_home.Path, ".ssh")).FullName;

    private string? Environment(string name) => name == "HOME" ? _home.Path : null;

    private IReadOnlyList<string> Read(params string[] files) => SshKeyFiles.Read(files, Environment, _notes);

    [Fact]
    public void Read_NoFilesGiven_EveryIdPubInHomeInNameOrder()
    {
        var rsa = File.ReadAllText(SshKeys.Generate(SshDirectory, "id_rsa", "rsa", "alice@rsa", 2048)).TrimEnd();
        var ed25519 = File.ReadAllText(SshKeys.Generate(SshDirectory, "id_ed25519", comment: "alice@ed")).TrimEnd();
        SshKeys.Generate(SshDirectory, "deploy_key");

        var keys = Read();

        Assert.Equal([ed25519, rsa], keys);
        Assert.Equal(string.Empty, _notes.ToString());
    }

    [Fact]
    public void Read_NoKeyInHome_NoKeysAndANoteSayingHowToAddOne()
    {
        _ = SshDirectory;

        var keys = Read();

        Assert.Empty(keys);
        Assert.Contains("no SSH public key found", _notes.ToString(), StringComparison.Ordinal);
        Assert.Contains("ssh-keygen -t ed25519", _notes.ToString(), StringComparison.Ordinal);
        Assert.Contains("--ssh-key FILE", _notes.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NoHomeDirectory_NoKeysAndANote()
    {
        var keys = SshKeyFiles.Read([], _ => null, _notes);

        Assert.Empty(keys);
        Assert.NotEqual(string.Empty, _notes.ToString());
    }

    [Fact]
    public void Read_FilesGiven_OnlyThoseEachLineAKeyCommentsAndBlankLinesSkippedDuplicatesOnce()
    {
        File.WriteAllText(Path.Combine(SshDirectory, "id_ed25519.pub"), SshKeys.Ed25519("not-sent") + "\n");
        var file = Path.Combine(_home.Path, "team.pub");
        File.WriteAllText(file, $"# the team\n{SshKeys.Ed25519("alice", 1)}\r\n\n{SshKeys.Ed25519("bob", 2)}\n{SshKeys.Ed25519("alice", 1)}\n");

        var keys = Read(file);

        Assert.Equal([SshKeys.Ed25519("alice", 1), SshKeys.Ed25519("bob", 2)], keys);
    }

    [Fact]
    public void Read_MissingFile_UsageErrorNamingIt()
    {
        var error = Assert.Throws<UsageException>(() => Read("/nonexistent/id_x.pub"));

        Assert.StartsWith("--ssh-key /nonexistent/id_x.pub: cannot read it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_PrivateKeyGiven_RefusedPointingAtThePublicOne()
    {
        var publicKey = SshKeys.Generate(_home.Path, "id_ed25519");

        var error = Assert.Throws<UsageException>(() => Read(publicKey[..^4]));

        Assert.Contains("private key", error.Message, StringComparison.Ordinal);
        Assert.Contains("id_ed25519.pub", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssh-ed25519 AAAA$(reboot) alice", "line 1 has key data that is not valid base64")]
    [InlineData("hello world", "line 1 has the type 'hello'")]
    [InlineData("", "holds no public key")]
    public void Read_NotAKey_UsageErrorNamingFileAndLine(string text, string expected)
    {
        var file = Path.Combine(_home.Path, "bad.pub");
        File.WriteAllText(file, text);

        var error = Assert.Throws<UsageException>(() => Read(file));

        Assert.StartsWith($"--ssh-key {file}: {expected}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_BadDefaultKey_UsageErrorSayingItWasFoundInHome()
    {
        File.WriteAllText(Path.Combine(SshDirectory, "id_broken.pub"), SshKeys.Ed25519("alice; rm -rf /"));

        var error = Assert.Throws<UsageException>(() => Read());

        Assert.Contains("id_broken.pub (found in ~/.ssh; pass --ssh-key FILE to choose other keys): line 1 has ';' in its comment", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_HugeFile_RefusedWithoutReadingIt()
    {
        var file = Path.Combine(_home.Path, "huge.pub");
        File.WriteAllBytes(file, new byte[SshKeyFiles.MaxFileBytes + 1]);

        var error = Assert.Throws<UsageException>(() => Read(file));

        Assert.Contains("too large", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SeventeenKeys_UsageErrorNamingTheLimit()
    {
        var file = Path.Combine(_home.Path, "many.pub");
        File.WriteAllLines(file, Enumerable.Range(0, 17).Select(i => SshKeys.Ed25519($"k{i}", (byte)i)));

        var error = Assert.Throws<UsageException>(() => Read(file));

        Assert.Contains("at most 16", error.Message, StringComparison.Ordinal);
    }
}
