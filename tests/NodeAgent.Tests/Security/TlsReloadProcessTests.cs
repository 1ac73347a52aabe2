using System.Security.Cryptography.X509Certificates;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>The real scheduler process renewing its TLS certificate on SIGHUP (what `systemctl reload` sends).</summary>
public sealed class TlsReloadProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact(Timeout = 120_000)]
    public async Task Sighup_RenewedFiles_ServedFromTheNextConnection_BrokenFiles_RefusedAndTheLastCertificateKept()
    {
        using var pki = new TestPki();
        using var directory = new TempDirectory();
        var (certificate, key) = pki.Server("live");
        var config = Path.Combine(directory.Path, "scheduler.conf");
        await File.WriteAllTextAsync(config, $"tls-cert = {certificate}\ntls-key = {key}\n");
        using var notify = NotifySocket.Abstract();
        await using var scheduler = ServiceProcesses.StartScheduler(directory.Path, new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Address },
            "--listen", "https://127.0.0.1:0", "--config", config);
        var address = new Uri((await scheduler.WaitForLineAsync("listening on https://", Timeout)).Split(' ')[^1]);
        await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, context: () => scheduler.Output);
        var first = await ServedAsync(address);

        var (renewed, renewedKey) = pki.Server("renewed");
        File.Copy(renewed, certificate, overwrite: true);
        File.Copy(renewedKey, key, overwrite: true);
        await ServiceProcesses.SignalAsync(scheduler, "HUP");
        await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, count: 2, context: () => scheduler.Output);
        var second = await ServedAsync(address);

        await File.WriteAllTextAsync(certificate, "not a certificate\n");
        await ServiceProcesses.SignalAsync(scheduler, "HUP");
        await scheduler.WaitForLineAsync("Reload refused", Timeout);
        await notify.WaitForAsync(m => m.StartsWith("READY=1", StringComparison.Ordinal), Timeout, count: 3, context: () => scheduler.Output);
        var third = await ServedAsync(address);

        using var expected = X509Certificate2.CreateFromPemFile(renewed, renewedKey);
        Assert.NotEqual(first, second);
        Assert.Equal(expected.Thumbprint, second);
        Assert.Equal(second, third);
        Assert.Contains(certificate, scheduler.Output, StringComparison.Ordinal);
    }

    /// <summary>The thumbprint of the certificate a new connection is served (checked against the test CA).</summary>
    private static async Task<string> ServedAsync(Uri address)
    {
        string? served = null;
        using var channel = new RpcChannel([address], new RpcChannelOptions
        {
            ServerCertificateValidation = (sender, presented, chain, errors) =>
            {
                served = (presented as X509Certificate2)?.Thumbprint;
                return served is not null;
            },
        });
        await new HostServiceClient(channel).ListHostsAsync(new ListHostsRequest());
        return served!;
    }
}
