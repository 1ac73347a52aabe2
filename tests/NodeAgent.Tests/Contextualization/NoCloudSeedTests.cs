using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Agent.Contextualization;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Contextualization;

/// <summary>
/// The seed's checks and its serializer. The YAML is read back by PyYAML (python3-yaml), the parser cloud-init
/// itself reads NoCloud files with, so "cloud-init sees what we meant" is checked by the real parser.
/// </summary>
public sealed class NoCloudSeedTests
{
    internal const string Alice = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILYe/3DucVQ30kWAFz3+4UqdEGwtnl9PQXeHgebIuoy0 alice@laptop";
    internal const string Bob = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGPbcHbPc3YfiBLV6CSGr3ZkBbOvlZ6tlyiDdNm9HnKiuEZSwvyAAdWY9F29v3yLUsMiVgGqceSPbEG358Vdwrg=";
    private const string AliceBlob = "AAAAC3NzaC1lZDI1NTE5AAAAILYe/3DucVQ30kWAFz3+4UqdEGwtnl9PQXeHgebIuoy0";

    internal static SeedNicInput Nic(string mac = "52:54:00:12:34:56", string address = "10.20.0.5", int prefix = 24, string? gateway = "10.20.0.1", params string[] dns) =>
        new(mac, address, prefix, gateway, dns);

    [Fact]
    public void Write_SampleSeed_ExactlyTheThreeFiles()
    {
        var seed = new NoCloudSeed("w-k3m9x2pq7a", "build-box", [Alice, Bob],
            [Nic(dns: ["10.20.0.1", "2001:db8::53"]), Nic("52:54:00:12:34:57", "192.0.2.10", 28, gateway: null)]);

        var files = NoCloudFiles.Write(seed);

        Assert.Equal("instance-id: \"w-k3m9x2pq7a\"\nlocal-hostname: \"build-box\"\n", files.MetaData);
        Assert.Equal($"#cloud-config\nssh_authorized_keys:\n  - \"{Alice}\"\n  - \"{Bob}\"\n", files.UserData);
        Assert.Equal(
            """
            version: 2
            ethernets:
              eth0:
                match:
                  macaddress: "52:54:00:12:34:56"
                set-name: "eth0"
                addresses:
                  - "10.20.0.5/24"
                routes:
                  - to: "0.0.0.0/0"
                    via: "10.20.0.1"
                nameservers:
                  addresses:
                    - "10.20.0.1"
                    - "2001:db8::53"
              eth1:
                match:
                  macaddress: "52:54:00:12:34:57"
                set-name: "eth1"
                addresses:
                  - "192.0.2.10/28"

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            files.NetworkConfig);
    }

    [Fact(Timeout = 30_000)]
    public async Task Write_SampleSeed_PyYamlReadsWhatCloudInitExpects()
    {
        var seed = new NoCloudSeed("w-1", "h1", [Alice], [Nic(dns: ["10.20.0.1"])]);
        var files = NoCloudFiles.Write(seed);

        var meta = await PyYamlAsync(files.MetaData);
        var user = await PyYamlAsync(files.UserData);
        var network = await PyYamlAsync(files.NetworkConfig);

        Assert.Equal("w-1", meta.GetProperty("instance-id").GetString());
        Assert.Equal("h1", meta.GetProperty("local-hostname").GetString());
        Assert.Equal([Alice], user.GetProperty("ssh_authorized_keys").EnumerateArray().Select(k => k.GetString()));
        Assert.Equal(2, network.GetProperty("version").GetInt32());
        var eth0 = network.GetProperty("ethernets").GetProperty("eth0");
        Assert.Equal("52:54:00:12:34:56", eth0.GetProperty("match").GetProperty("macaddress").GetString());
        Assert.Equal("eth0", eth0.GetProperty("set-name").GetString());
        Assert.Equal("10.20.0.5/24", eth0.GetProperty("addresses")[0].GetString());
        Assert.Equal("0.0.0.0/0", eth0.GetProperty("routes")[0].GetProperty("to").GetString());
        Assert.Equal("10.20.0.1", eth0.GetProperty("routes")[0].GetProperty("via").GetString());
        Assert.Equal("10.20.0.1", eth0.GetProperty("nameservers").GetProperty("addresses")[0].GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Write_NoKeysNoNics_StillValidYaml()
    {
        var files = NoCloudFiles.Write(new NoCloudSeed("w-1", "h1", [], []));

        Assert.Equal(0, (await PyYamlAsync(files.UserData)).GetProperty("ssh_authorized_keys").GetArrayLength());
        Assert.Equal(JsonValueKind.Object, (await PyYamlAsync(files.NetworkConfig)).GetProperty("ethernets").ValueKind);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("x\", \"ssh-ed25519 AAAAinjected\"]")]
    [InlineData("\\\" ]\n")]
    [InlineData("' '' \\\\ \\n \\x41 \\u0041 #not-a-comment : {a: b} [c] & *ref !!python/object:os.system")]
    [InlineData("ünïcödé ☃ 🔑 \u00a0nbsp \u200bzwsp \u202eRLO")]
    [InlineData("--- \n...")]
    public async Task Write_HostileKeyComment_StaysInsideItsString(string comment)
    {
        var key = $"{Alice} {comment.Replace("\n", string.Empty, StringComparison.Ordinal)}";
        var files = NoCloudFiles.Write(new NoCloudSeed("w-1", "h1", [key, Bob], []));

        var user = await PyYamlAsync(files.UserData);

        Assert.Equal(2, files.UserData.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 2);
        Assert.All(files.UserData, c => Assert.InRange(c, '\n', '~'));
        Assert.Equal([key, Bob], user.GetProperty("ssh_authorized_keys").EnumerateArray().Select(k => k.GetString()));
        Assert.Single(user.EnumerateObject());
    }

    [Theory]
    [InlineData(0x0a)]
    [InlineData(0x0d)]
    [InlineData(0x09)]
    [InlineData(0x00)]
    [InlineData(0x1b)]
    [InlineData(0x85)]
    [InlineData(0x2028)]
    [InlineData(0x2029)]
    [InlineData(0xd800)]
    public void New_KeyWithALineBreakingOrControlCharacter_Refused(int codeUnit)
    {
        var bad = ((char)codeUnit).ToString();

        var error = Assert.Throws<SeedException>(() => new NoCloudSeed("w-1", "h1", [$"{Alice} evil{bad}ssh-rsa AAAA injected"], []));

        Assert.Contains("SSH key 0", error.Message, StringComparison.Ordinal);
        Assert.Contains($"U+{codeUnit:X4}", error.Message, StringComparison.Ordinal);
        Assert.Contains("one line of printable text", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(bad, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("command=\"/bin/sh\" " + Alice, "is not one of")]
    [InlineData("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "is not one of")]
    [InlineData("ssh-ed25519", "no key after it")]
    [InlineData("ssh-ed25519 not*base64", "does not decode")]
    [InlineData("ssh-rsa " + AliceBlob, "does not decode to a ssh-rsa key")]
    [InlineData("ssh-ed25519 AAAA", "does not decode")]
    [InlineData("  ", "is empty")]
    public void New_MalformedKey_RefusedSayingWhy(string key, string expected)
    {
        var error = Assert.Throws<SeedException>(() => new NoCloudSeed("w-1", "h1", [key], []));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void New_KeyWithExtraSpaces_Normalized()
    {
        var seed = new NoCloudSeed("w-1", "h1", [$"  ssh-ed25519   {AliceBlob}   alice  at  home  "], []);

        Assert.Equal([$"ssh-ed25519 {AliceBlob} alice  at  home"], seed.SshKeys);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-lead")]
    [InlineData("trail-")]
    [InlineData("dot.ted")]
    [InlineData("under_score")]
    [InlineData("sp ace")]
    [InlineData("quote\"")]
    [InlineData("new\nline")]
    [InlineData("toolong-toolong-toolong-toolong-toolong-toolong-toolong-toolong1")]
    public void New_HostnameNotADnsLabel_Refused(string hostname)
    {
        var error = Assert.Throws<SeedException>(() => new NoCloudSeed("w-1", hostname, [], []));

        Assert.Contains("is not a DNS label", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("52:54:00:12:34:5", "six hex pairs")]
    [InlineData("52:54:00:12:34:5G", "six hex pairs")]
    [InlineData("52:54:00:AB:CD:EF", "six hex pairs")]
    [InlineData("52-54-00-12-34-56", "six hex pairs")]
    [InlineData("01:00:5e:00:00:01", "multicast")]
    [InlineData("00:00:00:00:00:00", "not locally administered")]
    public void New_BadMac_Refused(string mac, string expected)
    {
        var error = Assert.Throws<SeedException>(() => new NoCloudSeed("w-1", "h1", [], [Nic(mac)]));

        Assert.Contains("NIC 0", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.1", 24, "10.1.0.1", "not an IPv4 address in dotted-quad form")]
    [InlineData("0x0a.0.0.5", 24, "10.0.0.1", "not an IPv4 address in dotted-quad form")]
    [InlineData("2001:db8::5", 64, null, "not an IPv4 address")]
    [InlineData("10.0.0.5\n", 24, null, "not an IPv4 address")]
    [InlineData("127.0.0.5", 8, null, "cannot be a host's address")]
    [InlineData("10.0.0.5", 0, null, "prefix length 0 is outside 1–32")]
    [InlineData("10.0.0.5", 33, null, "prefix length 33 is outside 1–32")]
    [InlineData("10.0.0.5", 24, "10.0.1.1", "is not another address in 10.0.0.5/24")]
    [InlineData("10.0.0.5", 24, "10.0.0.5", "is not another address in 10.0.0.5/24")]
    public void New_BadAddressOrGateway_Refused(string address, int prefix, string? gateway, string expected)
    {
        var error = Assert.Throws<SeedException>(() => new NoCloudSeed("w-1", "h1", [], [Nic(address: address, prefix: prefix, gateway: gateway)]));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void New_ManyProblems_AllReportedAtOnce()
    {
        var error = Assert.Throws<SeedException>(() => new NoCloudSeed("W 1", "-h", ["nope"],
            [Nic(dns: ["8.8.8.8", "dns.example"]), Nic(address: "10.20.0.6")]));

        Assert.Contains("instance id", error.Message, StringComparison.Ordinal);
        Assert.Contains("hostname", error.Message, StringComparison.Ordinal);
        Assert.Contains("SSH key 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("NIC 0: DNS server 'dns.example' is not an IP address", error.Message, StringComparison.Ordinal);
        Assert.Contains("NIC 1: MAC 52:54:00:12:34:56 is already another NIC's", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("w-k3m9x2pq7a", "w-k3m9x2pq7a")]
    [InlineData("lab.node_7", "lab-node-7")]
    [InlineData("9.", "9")]
    public void HostnameFor_WorkspaceId_ADnsLabel(string id, string expected) =>
        Assert.Equal(expected, NoCloudSeed.HostnameFor(id));

    /// <summary>Parses YAML with PyYAML's safe_load, as cloud-init does, and returns it as JSON.</summary>
    internal static async Task<JsonElement> PyYamlAsync(string yaml)
    {
        var start = new ProcessStartInfo(Repository.SystemPython, ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var python = Process.Start(start)!;
        await python.StandardInput.WriteAsync(yaml);
        python.StandardInput.Close();
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, $"PyYAML (python3-yaml, installed by tests/setup/install-deps.sh) refused the YAML: {stderr}\n{yaml}");
        return JsonDocument.Parse(await stdout).RootElement.Clone();
    }
}
