using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Scheduler.Networks;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Cli;

/// <summary>
/// ws lease, show and list with networks and SSH keys, run as programs with HOME pointed at a temporary
/// directory, against the real scheduler in process; the host is a <see cref="FakeAgent"/> with a bridge for "lab".
/// </summary>
public sealed class NetworkCommandTests : IAsyncLifetime
{
    private readonly TempDirectory _home = new();
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync(o => o with { Networks = [NetworkDefinition.Parse("lab=10.77.0.0/24,gateway=10.77.0.1,dns=10.77.0.1")] });
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        await new FakeAgent(_channel, "h1").RegisterAsync(4, "lab");
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
        _home.Dispose();
    }

    private sealed record WsRun(int Code, string Stdout, string Stderr);

    private string SshDirectory => Directory.CreateDirectory(Path.Combine(_home.Path, ".ssh")).FullName;

    private async Task<WsRun> WsAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Repository.ProgramPath("scheduler/NodeAgent.Cli", "ws"), arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["WS_SCHEDULER"] = _scheduler.Address.ToString();
        start.Environment["HOME"] = _home.Path;
        start.Environment["USER"] = "alice";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new WsRun(process.ExitCode, await stdout, await stderr);
    }

    private async Task<IReadOnlyList<Lease>> AllLeasesAsync() => (await _leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases;

    private Task<Lease> LeaseAsync() => _leases.CreateLeaseAsync(new CreateLeaseRequest
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        SshKeys = { SshKeys.Ed25519("alice@laptop") },
    });

    [Fact(Timeout = 30_000)]
    public async Task Lease_NoSshKeyOption_SendsTheIdPubKeysFromHome()
    {
        var key = File.ReadAllText(SshKeys.Generate(SshDirectory, "id_ed25519")).TrimEnd();

        var run = await WsAsync("lease", "--image", "debian-12", "--memory", "256M", "--no-wait");

        Assert.Equal(ExitCodes.Ok, run.Code);
        var lease = Assert.Single(await AllLeasesAsync());
        Assert.Equal([key], lease.SshKeys);
        Assert.Equal("lab", lease.Networks[0].Network);
        Assert.Contains("SSH keys:  1: ssh-ed25519 alice@laptop", run.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Lease_NoKeyAnywhere_NoteOnStderrAndLeaseWithoutKeys()
    {
        var run = await WsAsync("lease", "--image", "debian-12", "--memory", "256M", "--no-wait");

        Assert.Equal(ExitCodes.Ok, run.Code);
        Assert.Contains("no SSH public key found", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(Assert.Single(await AllLeasesAsync()).SshKeys);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 alice;reboot")]
    [InlineData("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")]
    public async Task Lease_BadKeyFile_ExitsTwoNamingTheFileBeforeAskingTheScheduler(string content)
    {
        var file = Path.Combine(_home.Path, "key.pub");
        await File.WriteAllTextAsync(file, content);

        var run = await WsAsync("lease", "--image", "debian-12", "--ssh-key", file, "--no-wait");

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.StartsWith($"ws: --ssh-key {file}: ", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(await AllLeasesAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Lease_BadNetworkName_ExitsTwoBeforeAskingTheScheduler()
    {
        var run = await WsAsync("lease", "--image", "debian-12", "--network", "lab;reboot", "--no-wait");

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains("--network 'lab;reboot' has ';'", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(await AllLeasesAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Lease_UnknownNetwork_ExitsOneNamingTheConfiguredNetworks()
    {
        var run = await WsAsync("lease", "--image", "debian-12", "--network", "dmz", "--no-wait");

        Assert.Equal(ExitCodes.ServerError, run.Code);
        Assert.Contains("network 'dmz' is not configured on this scheduler; the configured networks are lab", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Show_PlacedLease_PrintsTheNicAndTheSshCommand()
    {
        var lease = await LeaseAsync();
        var nic = lease.Networks[0];

        var plain = await WsAsync("show", lease.Id);
        var withUser = await WsAsync("show", lease.Id, "--ssh-user", "debian");

        Assert.Equal(ExitCodes.Ok, plain.Code);
        Assert.Contains($"Network:   lab 10.77.0.2/24, MAC {nic.Mac}, gateway 10.77.0.1, DNS 10.77.0.1\n", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("SSH keys:  1: ssh-ed25519 alice@laptop\n", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("SSH:       ssh 10.77.0.2   (logs in as your local user", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("SSH:       ssh debian@10.77.0.2\n", withUser.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Show_BadSshUser_ExitsTwo()
    {
        var lease = await LeaseAsync();

        var run = await WsAsync("show", lease.Id, "--ssh-user", "root;id");

        Assert.Equal(ExitCodes.UsageError, run.Code);
        Assert.Contains("--ssh-user 'root;id' is not a user name", run.Stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Show_ReleasedLease_AddressMarkedReleasedAndNoSshCommand()
    {
        var lease = await LeaseAsync();
        await _leases.ReleaseLeaseAsync(new ReleaseLeaseRequest { Id = lease.Id });
        await new FakeAgent(_channel, "h1").ReportAsync(lease.Id, WorkspaceState.Gone);

        var run = await WsAsync("show", lease.Id);

        Assert.Contains("10.77.0.2/24", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("(released)", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("SSH:       -\n", run.Stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task List_ShowsAnAddressColumn()
    {
        var lease = await LeaseAsync();

        var run = await WsAsync("list");

        var lines = run.Stdout.Split('\n');
        Assert.Contains("ADDRESS", lines[0], StringComparison.Ordinal);
        var row = Assert.Single(lines, l => l.StartsWith(lease.Id, StringComparison.Ordinal));
        Assert.Equal(lines[0].IndexOf("ADDRESS", StringComparison.Ordinal), row.IndexOf("10.77.0.2", StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task Show_Json_IncludesNetworksAndKeys()
    {
        var lease = await LeaseAsync();

        var run = await WsAsync("show", lease.Id, "-o", "json");

        using var json = JsonDocument.Parse(run.Stdout);
        var nic = json.RootElement.GetProperty("networks")[0];
        Assert.Equal("10.77.0.2", nic.GetProperty("address").GetString());
        Assert.Equal(lease.Networks[0].Mac, nic.GetProperty("mac").GetString());
        Assert.Equal(24, nic.GetProperty("prefixLength").GetInt32());
        Assert.Equal(SshKeys.Ed25519("alice@laptop"), json.RootElement.GetProperty("sshKeys")[0].GetString());
    }
}
