using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Leases;
using LeasePage = NodeAgent.Scheduler.Domain.LeasePage;
using LeasePosition = NodeAgent.Scheduler.Domain.LeasePosition;
using DomainLease = NodeAgent.Scheduler.Domain.Lease;
using DomainLeaseId = NodeAgent.Scheduler.Domain.LeaseId;

namespace NodeAgent.Scheduler.Api;

/// <summary>nodeagent.v1.LeaseService: translates ws's calls into <see cref="LeaseManager"/> commands.</summary>
internal sealed class LeaseApi(LeaseManager leases) : LeaseServiceBase
{
    /// <summary>Who is asking. Until tokens exist, ws names its user in this header.</summary>
    public const string UserHeader = "x-nodeagent-user";

    public override async Task<Lease> CreateLease(CreateLeaseRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("CreateLease");
        var (kind, start, queueLimit) = WireMapping.ToKind(request, v);
        var leaseRequest = WireMapping.ToLeaseRequest(request, Owner(context, v), v) with { Kind = kind, Start = start, QueueLimit = queueLimit };
        var lease = await leases.CreateAsync(leaseRequest, context.CancellationToken);
        var wire = WireMapping.ToWire(lease);
        if (request.DryRun)
        {
            // Nothing was stored: the answer has no id to look up.
            wire.Id = string.Empty;
        }

        return wire;
    }

    public override Task<Lease> GetLease(GetLeaseRequest request, ServerCallContext context) =>
        Task.FromResult(WireMapping.ToWire(leases.Get(LeaseIdOf("GetLease", request.Id))));

    public override Task<ListLeasesResponse> ListLeases(ListLeasesRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("ListLeases");
        LeasePosition? after = null;
        if (request.PageToken.Length > 0 && !LeasePosition.TryParseToken(request.PageToken, out after, out var problem))
        {
            v.Require(false, "page_token " + problem);
        }

        v.ThrowIfInvalid();
        var size = request.PageSize == 0 ? LeasePage.DefaultSize : (int)Math.Min(request.PageSize, LeasePage.MaxSize);
        var page = leases.ListPage(request.IncludeEnded, after, size);
        var response = new ListLeasesResponse { NextPageToken = page.Next?.ToToken() ?? string.Empty };
        response.Leases.Add(page.Leases.Select(WireMapping.ToWire));
        return Task.FromResult(response);
    }

    public override async Task<Lease> ExtendLease(ExtendLeaseRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("ExtendLease");
        var id = v.LeaseId("id", request.Id);
        var by = v.Duration("by", request.By, TimeSpan.FromMinutes(1), LeaseManager.MaxLifetime);
        v.ThrowIfInvalid();
        return WireMapping.ToWire(await leases.ExtendAsync(id, by, context.CancellationToken));
    }

    public override async Task<Lease> ReleaseLease(ReleaseLeaseRequest request, ServerCallContext context) =>
        WireMapping.ToWire(await leases.ReleaseAsync(LeaseIdOf("ReleaseLease", request.Id), context.CancellationToken));

    public override async Task<Lease> SetLeasePower(SetLeasePowerRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("SetLeasePower");
        var id = v.LeaseId("id", request.Id);
        var action = v.PowerAction("action", request.Action);
        v.ThrowIfInvalid();
        return WireMapping.ToWire(await leases.SetPowerAsync(id, action, context.CancellationToken));
    }

    public override async Task<Lease> SaveLease(SaveLeaseRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("SaveLease");
        var id = v.LeaseId("id", request.Id);
        var name = v.Name("image_name", request.ImageName);
        v.Require(ImageSyntax.IsValidDescription(request.Description, out var problem), "description " + problem);
        v.ThrowIfInvalid();
        return WireMapping.ToWire(await leases.SaveAsync(id, name, request.Description, context.CancellationToken));
    }

    public override async Task WatchLease(GetLeaseRequest request, IServerStreamWriter<Lease> responses, ServerCallContext context)
    {
        var id = LeaseIdOf("WatchLease", request.Id);
        var token = context.CancellationToken;
        DomainLease? sent = null;
        while (true)
        {
            var changed = leases.LeaseChanges.NextChange(id);
            var lease = leases.Get(id);
            if (lease != sent)
            {
                await responses.WriteAsync(WireMapping.ToWire(lease), token);
                sent = lease;
            }

            if (lease.IsTerminal)
            {
                return;
            }

            await changed.WaitAsync(token);
        }
    }

    private static DomainLeaseId LeaseIdOf(string method, string text)
    {
        var v = new RequestValidator(method);
        var id = v.LeaseId("id", text);
        v.ThrowIfInvalid();
        return id;
    }

    private static string Owner(ServerCallContext context, RequestValidator v)
    {
        var user = context.GetRequestHeader(UserHeader);
        return string.IsNullOrEmpty(user) ? "anonymous" : v.Name($"{UserHeader} header", user);
    }
}
