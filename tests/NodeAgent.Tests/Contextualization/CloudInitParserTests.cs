using System.Diagnostics;
using System.Text.Json;
using NodeAgent.Agent.Contextualization;
using NodeAgent.Agent.Processes;

namespace NodeAgent.Tests.Contextualization;

/// <summary>
/// cloud-init's own network-config parser (<c>cloudinit.net.network_state</c>, the code every renderer starts
/// from) reads what the agent writes as we mean it. cloud-init is Debian's package, downloaded and unpacked into
/// a cache, never installed: installed, it would reconfigure the machine at its next boot.
/// </summary>
public sealed class CloudInitParserTests
{
    private const string CacheDirectory = "/var/cache/nodeagent/cloud-init";
    private static readonly SemaphoreSlim Unpacking = new(1, 1);
    private static readonly CommandRunner Runner = new(Microsoft.Extensions.Logging.Abstractions.NullLogger<CommandRunner>.Instance);
    private static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(3);

    private const string Parse = """
        import json, sys
        from cloudinit import safeyaml
        from cloudinit.net import network_state
        state = network_state.parse_net_config_data(safeyaml.load(sys.stdin.read()))
        print(json.dumps({"interfaces": [{"name": i["name"], "mac": i["mac_address"], "subnets": i["subnets"]} for i in state.iter_interfaces()],
                          "dns": state.dns_nameservers}))
        """;

    [Fact(Timeout = 300_000)]
    public async Task NetworkConfig_CloudInitParses_StaticAddressDefaultRouteAndDnsPerMac()
    {
        var seed = new NoCloudSeed("w-1", "h1", [], [
            NoCloudSeedTests.Nic("52:54:00:12:34:56", "10.20.0.5", 24, "10.20.0.1", "10.20.0.1", "2001:db8::53"),
            NoCloudSeedTests.Nic("52:54:00:12:34:57", "192.0.2.10", 28, gateway: null)]);

        var state = await ParseAsync(NoCloudFiles.Write(seed).NetworkConfig);

        var interfaces = state.GetProperty("interfaces").EnumerateArray().ToList();
        Assert.Equal(["eth0", "eth1"], interfaces.Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(["52:54:00:12:34:56", "52:54:00:12:34:57"], interfaces.Select(i => i.GetProperty("mac").GetString()));
        var eth0 = Assert.Single(interfaces[0].GetProperty("subnets").EnumerateArray());
        Assert.Equal("static", eth0.GetProperty("type").GetString());
        Assert.Equal("10.20.0.5", eth0.GetProperty("address").GetString());
        Assert.Equal(24, eth0.GetProperty("prefix").GetInt32());
        var route = Assert.Single(eth0.GetProperty("routes").EnumerateArray());
        Assert.Equal("0.0.0.0", route.GetProperty("network").GetString());
        Assert.Equal(0, route.GetProperty("prefix").GetInt32());
        Assert.Equal("10.20.0.1", route.GetProperty("gateway").GetString());
        Assert.Equal(["10.20.0.1", "2001:db8::53"], state.GetProperty("dns").EnumerateArray().Select(d => d.GetString()));
        var eth1 = Assert.Single(interfaces[1].GetProperty("subnets").EnumerateArray());
        Assert.Equal("192.0.2.10", eth1.GetProperty("address").GetString());
        Assert.Equal(28, eth1.GetProperty("prefix").GetInt32());
        Assert.Equal(0, eth1.GetProperty("routes").GetArrayLength());
    }

    private static async Task<JsonElement> ParseAsync(string networkConfig)
    {
        var packages = await UnpackedCloudInitAsync();
        var start = new ProcessStartInfo(Support.Repository.SystemPython, ["-c", Parse])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PYTHONPATH"] = packages;
        using var python = Process.Start(start)!;
        await python.StandardInput.WriteAsync(networkConfig);
        python.StandardInput.Close();
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, $"cloud-init's parser refused the network-config: {stderr}\n{networkConfig}");
        return JsonDocument.Parse(await stdout).RootElement.Clone();
    }

    /// <summary>The python3 package directory of Debian's cloud-init, unpacked once per version into the cache.</summary>
    private static async Task<string> UnpackedCloudInitAsync()
    {
        await Unpacking.WaitAsync();
        try
        {
            var version = await CandidateVersionAsync();
            var target = Path.Combine(CacheDirectory, version);
            var packages = Path.Combine(target, "usr", "lib", "python3", "dist-packages");
            if (Directory.Exists(packages))
            {
                return packages;
            }

            var work = Path.Combine(CacheDirectory, ".unpack-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(work);
            try
            {
                // apt's sandbox user downloads into the directory, as tests/guest/build-guest.sh does it.
                await Runner.RunAsync("chown", ["_apt", work], AptTimeout, default);
                var download = await Runner.RunAsync("sh", ["-c", "cd \"$1\" && apt-get download -q \"cloud-init=$2\"", "sh", work, version], AptTimeout, default);
                Assert.True(download.ExitCode == 0, $"apt-get download cloud-init={version} failed: {download.StandardError}");
                var deb = Directory.EnumerateFiles(work, "cloud-init_*.deb").Single();
                await Runner.RunCheckedAsync("dpkg-deb", ["-x", deb, Path.Combine(work, "root")], AptTimeout, default);
                try
                {
                    Directory.Move(Path.Combine(work, "root"), target);
                }
                catch (IOException) when (Directory.Exists(packages))
                {
                    // Another test run unpacked the same version first.
                }
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }

            return packages;
        }
        finally
        {
            Unpacking.Release();
        }
    }

    private static async Task<string> CandidateVersionAsync()
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var show = await Runner.RunAsync("apt-cache", ["show", "--no-all-versions", "cloud-init"], AptTimeout, default);
            var version = show.StandardOutput.Split('\n').FirstOrDefault(l => l.StartsWith("Version: ", StringComparison.Ordinal))?["Version: ".Length..].Trim();
            if (show.ExitCode == 0 && !string.IsNullOrEmpty(version))
            {
                return version;
            }

            // Package lists missing (a fresh machine): fetch them once, as tests/guest/build-guest.sh does.
            await Runner.RunAsync("apt-get", ["update", "-qq"], AptTimeout, default);
        }

        throw new InvalidOperationException("apt knows no cloud-init package even after apt-get update; this test needs Debian's package lists");
    }
}
