using System.Net;
using NodeAgent.Agent.Workspaces;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Tests.Agent;

/// <summary>The guest part of a workspace spec (NICs, SSH keys, hostname) as the agent checks it on arrival.</summary>
public sealed class WorkspaceGuestTests
{
    private const string Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@lab";

    private static V1.WorkspaceSpec Spec(V1.NetworkAttachment? nic = null, string? key = Key, string hostname = "")
    {
        var spec = new V1.WorkspaceSpec
        {
            Id = "w-abc",
            Owner = "alice",
            Image = new V1.ImageRef { Name = "tiny", Sha256 = new string('0', 64), Url = "https://images.example/tiny" },
            Resources = new V1.Resources { Vcpus = 1, MemoryBytes = 64UL << 20 },
            Hostname = hostname,
        };
        spec.Networks.Add(nic ?? Nic());
        if (key is not null)
        {
            spec.SshKeys.Add(key);
        }

        return spec;
    }

    private static V1.NetworkAttachment Nic(string network = "default", string mac = "52:54:00:0a:00:05", string address = "10.77.0.5", string gateway = "10.77.0.1") =>
        new() { Network = network, Mac = mac, Address = address, PrefixLength = 24, Gateway = gateway, DnsServers = { "10.77.0.1" } };

    [Fact]
    public void ValidSpec_MapsNicsKeysAndHostname()
    {
        var guest = Workspace.FromWire(Spec()).Guest!;

        Assert.Equal("w-abc", guest.Hostname);
        var nic = Assert.Single(guest.Nics);
        Assert.Equal(("default", "52:54:00:0a:00:05", IPAddress.Parse("10.77.0.5"), 24, IPAddress.Parse("10.77.0.1")),
            (nic.Network, nic.Mac, nic.Address, nic.PrefixLength, nic.Gateway));
        Assert.Equal([IPAddress.Parse("10.77.0.1")], nic.DnsServers);
        Assert.Equal([Key], guest.SshKeys);
    }

    [Fact]
    public void NoNicsNoKeys_HasNoGuestPart()
    {
        var spec = Spec(key: null);
        spec.Networks.Clear();

        Assert.Null(Workspace.FromWire(spec).Guest);
    }

    [Theory]
    [InlineData("default; drop", "52:54:00:0a:00:05", "10.77.0.5", "network name")]
    [InlineData("Default", "52:54:00:0a:00:05", "10.77.0.5", "network name")]
    [InlineData("default", "52:54:00:0A:00:05", "10.77.0.5", "MAC")]
    [InlineData("default", "53:54:00:0a:00:05", "10.77.0.5", "MAC")]
    [InlineData("default", "52:54:00:0a:00:05\n", "10.77.0.5", "MAC")]
    [InlineData("default", "52:54:00:0a:00:05", "10.77.0.5/24", "address")]
    [InlineData("default", "52:54:00:0a:00:05", "010.77.0.5", "address")]
    [InlineData("default", "52:54:00:0a:00:05", "1", "address")]
    [InlineData("default", "52:54:00:0a:00:05", "::1", "address")]
    [InlineData("default", "52:54:00:0a:00:05", "10.77.0.5 } ; flush ruleset", "address")]
    public void HostileNicValues_AreRejected(string network, string mac, string address, string field)
    {
        var error = Assert.Throws<FormatException>(() => Workspace.FromWire(Spec(Nic(network, mac, address))));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ssh-ed25519 AAAA alice\nssh-rsa BBBB mallory")]
    [InlineData("ssh-ed25519 AAAA alice\0")]
    [InlineData("ssh-dss AAAA old")]
    [InlineData("ssh-ed25519 AAAA\"; rm -rf / #")]
    [InlineData("ssh-ed25519 AAAA café")]
    public void HostileSshKeys_AreRejected(string key)
    {
        var error = Assert.Throws<FormatException>(() => Workspace.FromWire(Spec(key: key)));

        Assert.Contains("SSH key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HostileHostname_IsRejected() =>
        Assert.Contains("hostname", Assert.Throws<FormatException>(() => Workspace.FromWire(Spec(hostname: "a.b;c"))).Message, StringComparison.Ordinal);
}
