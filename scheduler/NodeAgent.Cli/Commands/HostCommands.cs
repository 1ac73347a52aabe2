using System.CommandLine;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws hosts list|show</c>: hosts as the scheduler sees them.</summary>
public static class HostCommands
{
    public static Command Create(GlobalOptions options)
    {
        var list = new Command("list", "List every registered host with its health, capacity and measured load.");
        list.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var response = await new HostServiceClient(context.Channel).ListHostsAsync(new ListHostsRequest(), context.Call);
            context.Write(response, () => Render(response.Hosts));
        }, token));

        var id = new Argument<string>("HOST-ID") { Description = "The host's id, as `ws hosts list` shows it." };
        var show = new Command("show", "Show one host in full.") { id };
        show.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var host = await new HostServiceClient(context.Channel).GetHostAsync(new GetHostRequest { HostId = parse.GetValue(id) }, context.Call);
            context.Write(host, () => RenderOne(host));
        }, token));

        return new Command("hosts", "Hosts the scheduler knows: capacity, load and health.") { list, show };
    }

    private static string Render(IEnumerable<Host> hosts)
    {
        var table = new Table("HOST", "HEALTH", "VCPUS", "MEMORY", "CPU USED", "MEM FREE", "LAST HEARTBEAT");
        var now = DateTimeOffset.UtcNow;
        foreach (var h in hosts)
        {
            table.Add(
                h.Info.HostId,
                Health(h.Health),
                h.Info.Capacity.Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Units.Bytes(h.Info.Capacity.MemoryBytes),
                $"{h.Load.CpuUtilization:P0}",
                Units.Bytes(h.Load.MemoryAvailableBytes),
                h.LastHeartbeatAt is null ? "never" : Units.Ago(now - h.LastHeartbeatAt.ToDateTimeOffset()));
        }

        return table.ToString();
    }

    private static string RenderOne(Host h)
    {
        var labels = string.Join(", ", h.Info.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        return $"""
            Host:            {h.Info.HostId} ({h.Info.Hostname})
            Health:          {Health(h.Health)}{(h.HealthReason.Length > 0 ? " — " + h.HealthReason : string.Empty)}
            Hypervisor:      {h.Info.DomainType} on {h.Info.Architecture}, agent {h.Info.AgentVersion}
            Capacity:        {h.Info.Capacity.Vcpus} vCPUs, {Units.Bytes(h.Info.Capacity.MemoryBytes)} memory, {Units.Bytes(h.Info.Capacity.DiskBytes)} disk
            Allocated:       {h.Allocated?.Vcpus ?? 0} vCPUs, {Units.Bytes(h.Allocated?.MemoryBytes ?? 0)} memory
            Foreign:         {h.Load.Foreign?.Vcpus ?? 0} vCPUs, {Units.Bytes(h.Load.Foreign?.MemoryBytes ?? 0)} memory (domains NodeAgent did not create)
            Load:            CPU {h.Load.CpuUtilization:P0}, {Units.Bytes(h.Load.MemoryAvailableBytes)} memory free, load average {h.Load.LoadAverage1M:0.00}
            Labels:          {(labels.Length == 0 ? "-" : labels)}
            Features:        {(h.Info.Features.Count == 0 ? "-" : string.Join(", ", h.Info.Features))}
            Networks:        {(h.Info.Networks.Count == 0 ? "- (its agent announces no bridge)" : string.Join(", ", h.Info.Networks))}
            Registered:      {h.RegisteredAt?.ToDateTimeOffset():u}
            Last heartbeat:  {h.LastHeartbeatAt?.ToDateTimeOffset():u}

            """;
    }

    private static string Health(HostHealth health) => health switch
    {
        HostHealth.Up => "up",
        HostHealth.Down => "down",
        HostHealth.Degraded => "degraded",
        _ => "unknown",
    };
}
