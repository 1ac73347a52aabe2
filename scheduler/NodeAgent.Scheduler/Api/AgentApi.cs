using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Hosts;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Security;

namespace NodeAgent.Scheduler.Api;

/// <summary>nodeagent.v1.AgentService: translates agents' calls into <see cref="HostRegistry"/> commands.</summary>
/// <param name="urls">The image repository's URLs as hosts get them: signed image downloads and save uploads.</param>
internal sealed class AgentApi(HostRegistry hosts, LeaseManager leases, RepositoryUrls urls) : AgentServiceBase
{
    public override async Task<RegisterHostResponse> RegisterHost(RegisterHostRequest request, ServerCallContext context)
    {
        Caller.Of(context).RequireHost(request.Host?.HostId ?? string.Empty);
        var v = new RequestValidator("RegisterHost");
        var registration = WireMapping.ToRegistration(request.Host, v);
        v.ThrowIfInvalid();
        await hosts.RegisterAsync(registration, context.CancellationToken);
        return new RegisterHostResponse
        {
            HeartbeatInterval = Duration.FromTimeSpan(hosts.HeartbeatInterval),
            HeartbeatTtl = Duration.FromTimeSpan(hosts.HeartbeatTtl),
        };
    }

    public override async Task<HeartbeatResponse> Heartbeat(HeartbeatRequest request, ServerCallContext context)
    {
        Caller.Of(context).RequireHost(request.HostId);
        var v = new RequestValidator("Heartbeat");
        var id = v.HostId("host_id", request.HostId);
        var capacity = WireMapping.ToCapacity("capacity", request.Capacity, v);
        var load = WireMapping.ToLoad(request.Load, v);
        v.Count("workspace_ids", request.WorkspaceIds.Count, 100_000);
        v.Count("cached_images", request.CachedImages.Count, 100_000);
        foreach (var digest in request.CachedImages.Take(100_000))
        {
            v.Require(Contract.ImageSyntax.IsValidSha256(digest, out var problem), "cached_images: " + problem);
        }

        var degraded = v.Text("degraded_reason", Clip(request.DegradedReason), required: false, RequestValidator.MaxReportLength);
        v.ThrowIfInvalid();
        var version = await hosts.HeartbeatAsync(id, capacity, load, degraded, context.CancellationToken);
        hosts.RecordCachedImages(id, request.CachedImages);
        await leases.ObserveHeldAsync(id, request.WorkspaceIds.ToHashSet(StringComparer.Ordinal), context.CancellationToken);
        return new HeartbeatResponse { DesiredVersion = (ulong)version };
    }

    public override async Task<ReportWorkspaceStatusResponse> ReportWorkspaceStatus(ReportWorkspaceStatusRequest request, ServerCallContext context)
    {
        Caller.Of(context).RequireHost(request.HostId);
        var v = new RequestValidator("ReportWorkspaceStatus");
        var host = v.HostId("host_id", request.HostId);
        v.Count("statuses", request.Statuses.Count, 10_000);
        var observations = request.Statuses.Take(10_000).Select(s =>
        {
            var (disk, save) = WireMapping.ToDiskReport(s, v);
            return new WorkspaceObservation(
                v.LeaseId("statuses.id", s.Id),
                s.State,
                v.Text("statuses.message", Clip(s.Message), required: false, RequestValidator.MaxReportLength),
                (long)Math.Min(s.RebootCount, long.MaxValue))
            {
                Disk = disk,
                Save = save,
            };
        }).ToList();
        v.ThrowIfInvalid();
        _ = hosts.Get(host);
        await leases.ApplyAsync(host, observations, context.CancellationToken);
        return new ReportWorkspaceStatusResponse();
    }

    /// <summary>
    /// An agent's explanation made fit to store and show: control characters (libvirt's messages carry newlines)
    /// become spaces and an over-long one is cut. Neither is refused: refusing would lose the whole report, and
    /// with it the workspace's state.
    /// </summary>
    internal static string Clip(string text)
    {
        var clean = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(w => new string(w.Select(c => char.IsControl(c) ? ' ' : c).ToArray())));
        return clean.Length > RequestValidator.MaxReportLength ? clean[..(RequestValidator.MaxReportLength - 1)] + "…" : clean;
    }

    public override async Task WatchDesiredWorkspaces(WatchDesiredWorkspacesRequest request, IServerStreamWriter<DesiredWorkspaces> responses, ServerCallContext context)
    {
        Caller.Of(context).RequireHost(request.HostId);
        var v = new RequestValidator("WatchDesiredWorkspaces");
        var id = v.HostId("host_id", request.HostId);
        v.ThrowIfInvalid();
        var token = context.CancellationToken;
        long? sent = null;
        while (!token.IsCancellationRequested)
        {
            // Take the change signal before reading, so a change made during the read wakes the next wait.
            var changed = hosts.DesiredChanges.NextChange(id);
            var desired = leases.DesiredFor(id);
            if (sent != desired.Version)
            {
                await responses.WriteAsync(WireMapping.ToWire(desired, urls, leases.Expiry), token);
                sent = desired.Version;
            }

            await changed.WaitAsync(token);
        }
    }
}
