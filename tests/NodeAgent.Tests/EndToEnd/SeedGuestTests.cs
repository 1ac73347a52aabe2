using NodeAgent.Agent.Contextualization;
using NodeAgent.Agent.Hypervisor;
using NodeAgent.Agent.Processes;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.EndToEnd;

/// <summary>
/// The test guest reads a seed built by the agent's code, on real libvirtd and QEMU: a transient domain
/// (<c>ctxtest-…</c>, which no agent touches) from <see cref="DomainXml"/> with the seed as its CD-ROM and a
/// NIC on a bridge of the test's own. The bridge has no address; the only other end is a network namespace the
/// test makes, so every packet stays between that namespace and the guest (see PLATFORM.md's traffic rule).
/// </summary>
[Collection(RealLibvirt.Collection)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SeedGuestTests : IAsyncLifetime
{
    private const string Uri = "qemu:///system";
    private const string GuestAddress = "192.0.2.5";
    private const string PeerAddress = "192.0.2.9";
    private const string Gateway = "192.0.2.1";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _dir = new();
    private readonly CommandRunner _runner = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly List<Func<Task>> _cleanups = [];
    private string _image = string.Empty;

    private string Bridge => "ctxtestbr" + _suffix;

    private UserSide? _userSide;

    public async Task InitializeAsync()
    {
        await Repository.RunScriptAsync("tests/setup/start-libvirtd.sh", TimeSpan.FromMinutes(5));
        _image = await Repository.RunScriptAsync("tests/guest/build-guest.sh", TimeSpan.FromMinutes(10));
        // QEMU runs as its own user: it must reach the overlay and the seed in here.
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
    }

    public async Task DisposeAsync()
    {
        for (var i = _cleanups.Count - 1; i >= 0; i--)
        {
            await _cleanups[i]();
        }

        if (_userSide is not null)
        {
            await _userSide.DisposeAsync();
        }

        _dir.Dispose();
    }

    [Fact(Timeout = 300_000)]
    public async Task Boot_WithSeedAndNic_GuestTakesItsNameKeysAndAddressAndAnswersOnIt()
    {
        _userSide = await UserSide.JoinAsync(Bridge, PeerAddress + "/24", createBridge: true);
        var seed = new NoCloudSeed("w-seed" + _suffix, "ctxguest", [Contextualization.NoCloudSeedTests.Alice, Contextualization.NoCloudSeedTests.Bob],
            [new SeedNicInput("52:54:00:c7:00:05", GuestAddress, 24, Gateway, [Gateway])]);
        var iso = await new SeedImage(_runner).BuildAsync(seed, _dir.Path, default);

        var console = await BootAsync(seed.InstanceId, iso, [new DomainNic("52:54:00:c7:00:05", Bridge)]);

        Assert.Contains($"NODEAGENT-GUEST: seed instance-id={seed.InstanceId} hostname=ctxguest keys=2\n", console, StringComparison.Ordinal);
        Assert.Contains($"NODEAGENT-GUEST: net eth0 {GuestAddress}/24 gw {Gateway}\n", console, StringComparison.Ordinal);
        Assert.Contains("NODEAGENT-GUEST: tcp 22 NODEAGENT-SSH-STANDIN\n", console, StringComparison.Ordinal);
        Assert.True(console.IndexOf("NODEAGENT-GUEST: net eth0", StringComparison.Ordinal) < console.IndexOf("NODEAGENT-GUEST-READY", StringComparison.Ordinal));
        Assert.Contains(TapNames.For(seed.InstanceId, 0), await _runner.RunCheckedAsync("ip", ["-o", "link", "show", "master", Bridge], CommandTimeout, default), StringComparison.Ordinal);
        Assert.True(await _userSide.PingAsync(GuestAddress), $"{GuestAddress} did not answer ping from namespace {_userSide.Namespace}");
        Assert.Equal("NODEAGENT-SSH-STANDIN ctxguest", await _userSide.BannerAsync(GuestAddress));
    }

    [Fact(Timeout = 300_000)]
    public async Task Boot_WithoutSeed_GuestSaysSoAndCarriesOn()
    {
        var console = await BootAsync("w-noseed" + _suffix, seedIso: null, nics: []);

        Assert.Contains("NODEAGENT-GUEST: seed none\n", console, StringComparison.Ordinal);
        Assert.DoesNotContain("NODEAGENT-GUEST: net ", console, StringComparison.Ordinal);
    }

    private async Task<string> BootAsync(string workspaceId, string? seedIso, IReadOnlyList<DomainNic> nics)
    {
        var name = "ctxtest-" + workspaceId;
        var root = Path.Combine(_dir.Path, "root.qcow2");
        var consoleLog = Path.Combine(_dir.Path, "console.log");
        await _runner.RunCheckedAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", Path.Combine(_image, "disk.qcow2"), root], CommandTimeout, default);
        string domainType;
        string architecture;
        using (var libvirt = LibvirtHypervisor.Open(Uri))
        {
            (domainType, architecture) = (libvirt.DomainType, libvirt.Architecture);
        }

        var xml = DomainXml.Write(new DomainSpec(
            name, domainType, architecture, 1, 256L << 20, root,
            Path.Combine(_image, "vmlinuz"), Path.Combine(_image, "initrd.img"), (await File.ReadAllTextAsync(Path.Combine(_image, "cmdline"))).Trim(),
            consoleLog, new WorkspaceMetadata(workspaceId, "ctxtest", "nodeagent-test-guest", DateTimeOffset.MaxValue), seedIso, nics));
        var xmlPath = Path.Combine(_dir.Path, "domain.xml");
        await File.WriteAllTextAsync(xmlPath, xml);

        // Transient: destroying it is all the clean-up libvirt needs.
        await _runner.RunCheckedAsync("virsh", ["-c", Uri, "create", xmlPath], TimeSpan.FromMinutes(1), default);
        _cleanups.Add(() => _runner.RunAsync("virsh", ["-c", Uri, "destroy", name], CommandTimeout, default));
        // The guest's tty turns each "\n" into "\r\n".
        var console = await RealCluster.WaitForConsoleAsync(consoleLog, "NODEAGENT-GUEST-READY", TimeSpan.FromMinutes(3));
        return console.Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
