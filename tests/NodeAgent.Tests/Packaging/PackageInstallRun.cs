using System.Globalization;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Packaging;

/// <summary>
/// One run of tests/setup/package-install-test.sh, shared by the facts of <see cref="PackageInstallTests"/>. The script
/// builds the .debs and .rpms from out/bin (publishing first if it is empty), lints them, installs the .debs in a
/// Debian bookworm root booted with systemd-nspawn and checks services, upgrade and purge there, then checks the
/// .rpms. It prints one line per check; the facts assert on those lines, each on its own part of the issue.
/// </summary>
public sealed class PackageInstallRun : IAsyncLifetime
{
    /// <summary>With a cold cache: `make publish`, debootstrap and the dependencies' download, then ~30 s of checks.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(30);

    private const string Prefix = "package-install-test: ";

    /// <summary>The script's exit status: 0 when every check passed.</summary>
    public int ExitCode { get; private set; }

    /// <summary>Everything it printed, stdout and stderr interleaved.</summary>
    public string Output { get; private set; } = string.Empty;

    /// <summary>The text after "package-install-test: " of each line that has it.</summary>
    public IReadOnlyList<string> Lines { get; private set; } = [];

    public async Task InitializeAsync()
    {
        await using var script = ChildProcess.Start(Path.Combine(Repository.Root, "tests", "setup", "package-install-test.sh"), []);
        ExitCode = await script.WaitForExitAsync(Limit);
        Output = script.Output;
        Lines = [.. Output.Split('\n').Select(l => l.TrimEnd()).Where(l => l.StartsWith(Prefix, StringComparison.Ordinal)).Select(l => l[Prefix.Length..])];
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Asserts that the check whose description starts with <paramref name="check"/> ran and passed.</summary>
    public void AssertPassed(string check)
    {
        Assert.True(Lines.Any(l => l.StartsWith("ok: " + check, StringComparison.Ordinal)),
            $"no passed check '{check}' in the output of package-install-test.sh:\n{Output}");
    }

    /// <summary>The overall exposure score `systemd-analyze security` gave the unit, e.g. 2.6.</summary>
    public double Exposure(string unit)
    {
        var marker = $"Overall exposure level for {unit}: ";
        var line = Lines.FirstOrDefault(l => l.StartsWith("exposure:", StringComparison.Ordinal) && l.Contains(marker, StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no exposure score of {unit} in the output:\n{Output}");
        var text = line[(line.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..].Split(' ')[0];
        return double.Parse(text, CultureInfo.InvariantCulture);
    }
}
