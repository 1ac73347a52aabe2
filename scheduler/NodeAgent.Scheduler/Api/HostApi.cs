using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Hosts;

namespace NodeAgent.Scheduler.Api;

/// <summary>nodeagent.v1.HostService: hosts as operators and ws see them, and their admin states.</summary>
internal sealed class HostApi(HostRegistry hosts, TimeProvider time) : HostServiceBase
{
    /// <summary>The furthest ahead a drain's deadline may be.</summary>
    public static readonly TimeSpan MaxDrainDeadline = TimeSpan.FromDays(30);

    /// <summary>Hosts beyond this many per answer are on the next page (about 250 bytes each on the wire).</summary>
    public const int MaxPageSize = 5000;

    public const int DefaultPageSize = 1000;

    public override Task<ListHostsResponse> ListHosts(ListHostsRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("ListHosts");
        string? after = null;
        if (request.PageToken.Length > 0)
        {
            after = Domain.PageTokens.Decode(request.PageToken);
            v.Require(after is not null && NodeAgent.Contract.HostId.TryParse(after, out _, out _), "page_token " + Domain.PageTokens.Problem);
        }

        v.ThrowIfInvalid();
        var size = request.PageSize == 0 ? DefaultPageSize : (int)Math.Min(request.PageSize, MaxPageSize);
        var page = hosts.List().Where(h => after is null || string.CompareOrdinal(h.Id.Value, after) > 0).Take(size).ToList();
        var response = new ListHostsResponse { NextPageToken = page.Count == size ? Domain.PageTokens.Encode(page[^1].Id.Value) : string.Empty };
        var now = time.GetUtcNow();
        foreach (var host in page)
        {
            response.Hosts.Add(WireMapping.ToWire(host, hosts.HealthOf(host), now));
        }

        return Task.FromResult(response);
    }

    public override Task<NodeAgent.Contract.V1.Host> GetHost(GetHostRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("GetHost");
        var id = v.HostId("host_id", request.HostId);
        v.ThrowIfInvalid();
        var host = hosts.Get(id);
        return Task.FromResult(WireMapping.ToWire(host, hosts.HealthOf(host), time.GetUtcNow()));
    }

    /// <remarks>
    /// Any caller may change any host's admin state: there are no admin roles yet (issue 11 adds them). The user ws
    /// names in its header is recorded as who made the change.
    /// </remarks>
    public override async Task<NodeAgent.Contract.V1.Host> SetHostAdminState(SetHostAdminStateRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("SetHostAdminState");
        var now = time.GetUtcNow();
        var id = v.HostId("host_id", request.HostId);
        var action = v.HostAdminAction("action", request.Action);
        var reason = v.Text("reason", request.Reason, required: false);
        var by = Security.Caller.Of(context).User;
        DateTimeOffset? deadline = null;
        if (request.Action == HostAdminAction.Drain)
        {
            deadline = v.Deadline("drain_deadline", request.DrainDeadline, now, MaxDrainDeadline);
        }
        else
        {
            v.Require(request.DrainDeadline is null, "drain_deadline is set, but only HOST_ADMIN_ACTION_DRAIN takes a deadline; leave it out");
        }

        v.ThrowIfInvalid();
        var host = await hosts.SetAdminAsync(id, action, deadline, reason, by, context.CancellationToken);
        return WireMapping.ToWire(host, hosts.HealthOf(host), time.GetUtcNow());
    }
}
