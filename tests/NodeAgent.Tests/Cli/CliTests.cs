using System.Diagnostics;
using NodeAgent.Cli;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

public sealed class ParsingTests
{
    [Theory]
    [InlineData("512M", 512UL << 20)]
    [InlineData("2G", 2UL << 30)]
    [InlineData("2GiB", 2UL << 30)]
    [InlineData("1.5T", 3UL << 39)]
    [InlineData("4096", 4096UL)]
    [InlineData("0", 0UL)]
    public void Size_HumanUnits_Bytes(string text, ulong bytes) => Assert.Equal(bytes, Parsing.Size(text, "--memory"));

    [Theory]
    [InlineData("2 gigs")]
    [InlineData("-1G")]
    [InlineData("G")]
    [InlineData("1e30")]
    public void Size_Malformed_UsageErrorNamingTheOption(string text)
    {
        var error = Assert.Throws<UsageException>(() => Parsing.Size(text, "--memory"));

        Assert.Contains("--memory", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30m", 30 * 60)]
    [InlineData("2h", 2 * 3600)]
    [InlineData("1h30m", 90 * 60)]
    [InlineData("7d", 7 * 86400)]
    [InlineData("45s", 45)]
    public void Duration_Parts_Summed(string text, int seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), Parsing.Duration(text, "--duration"));

    [Theory]
    [InlineData("2 hours")]
    [InlineData("h")]
    [InlineData("1h foo")]
    [InlineData("")]
    public void Duration_Malformed_UsageError(string text) => Assert.Throws<UsageException>(() => Parsing.Duration(text, "--duration"));
}

public sealed class SchedulerEndpointTests : IDisposable
{
    private readonly TempDirectory _home = new();

    public void Dispose() => _home.Dispose();

    private Func<string, string?> Environment(string? wsScheduler = null) => name => name switch
    {
        "HOME" => _home.Path,
        SchedulerEndpoint.EnvironmentVariable => wsScheduler,
        _ => null,
    };

    private void WriteConfig(string text)
    {
        Directory.CreateDirectory(Path.Combine(_home.Path, ".config", "nodeagent"));
        File.WriteAllText(Path.Combine(_home.Path, ".config", "nodeagent", "ws.conf"), text);
    }

    [Fact]
    public void Resolve_FlagBeatsEnvironmentBeatsFileBeatsDefault()
    {
        WriteConfig("# comment\nscheduler = http://from-file:7700\n");

        Assert.Equal(("http://flag:1", "--scheduler"), SchedulerEndpoint.Resolve("http://flag:1", Environment("http://env:2")));
        Assert.Equal(("http://env:2", "$WS_SCHEDULER"), SchedulerEndpoint.Resolve(null, Environment("http://env:2")));
        Assert.Equal("http://from-file:7700", SchedulerEndpoint.Resolve(null, Environment()).Address);
    }

    [Fact]
    public void Resolve_NothingConfigured_LocalDefault() =>
        Assert.Equal((SchedulerEndpoint.Default, "the default"), SchedulerEndpoint.Resolve(null, Environment()));
}

/// <summary>ws run as a program: its exit status tells usage errors, refusals and outages apart.</summary>
public sealed class WsExitCodeTests
{
    private static async Task<(int Code, string Stderr)> WsAsync(string scheduler, params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["WS_SCHEDULER"] = scheduler;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stderr);
    }

    [Fact(Timeout = 30_000)]
    public async Task UnknownCommand_ExitsTwo()
    {
        var (code, stderr) = await WsAsync("http://127.0.0.1:1", "lese");

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Contains("ws --help", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task MalformedSize_ExitsTwoNamingTheOption()
    {
        var (code, stderr) = await WsAsync("http://127.0.0.1:1", "lease", "--image", "x", "--memory", "lots");

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Contains("--memory 'lots'", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task NoScheduler_ExitsThreeSayingWhereTheAddressCameFrom()
    {
        var (code, stderr) = await WsAsync("http://127.0.0.1:1", "list");

        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("$WS_SCHEDULER", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task SchedulerRefuses_ExitsOne()
    {
        await using var scheduler = await RunningScheduler.StartAsync();

        var (code, stderr) = await WsAsync(scheduler.Address.ToString(), "show", "w-nosuchlease");

        Assert.Equal(ExitCodes.ServerError, code);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);
    }
}
