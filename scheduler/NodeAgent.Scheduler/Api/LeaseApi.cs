using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Leases;
using NodeAgent.Scheduler.Security;
using LeasePage = NodeAgent.Scheduler.Domain.LeasePage;
using LeasePosition = NodeAgent.Scheduler.Domain.LeasePosition;
using DomainLease = NodeAgent.Scheduler.Domain.Lease;
using DomainLeaseId = NodeAgent.Scheduler.Domain.LeaseId;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// nodeagent.v1.LeaseService: translates ws's calls into <see cref="LeaseManager"/> commands. A user sees and changes
/// their own project's leases only; another project's lease is answered as if it did not exist (NOT_FOUND), so nothing
/// tells a user which lease ids other projects hold.
/// </summary>
internal sealed class LeaseApi(LeaseManager leases) : LeaseServiceBase
{
    public override async Task<Lease> CreateLease(CreateLeaseRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("CreateLease");
        var (kind, start, queueLimit) = WireMapping.ToKind(request, v);
        var caller = Caller.Of(context);
        var leaseRequest = WireMapping.ToLeaseRequest(request, caller.User, v) with
        {
            Kind = kind, Start = start, QueueLimit = queueLimit, Project = caller.LeaseProject,
        };
        var lease = await leases.CreateAsync(leaseRequest, context.CancellationToken);
        var wire = WireMapping.ToWire(lease);
        if (request.DryRun)
        {
            // Nothing was stored: the answer has no id to look up.
            wire.Id = string.Empty;
        }

        return wire;
    }

    public override async Task<CreateLeasesResponse> CreateLeases(CreateLeasesRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("CreateLeases");
        var count = (int)v.Range("count", request.Count, 1, Domain.LeaseGroup.MaxSize);
        var lease = request.Lease ?? new CreateLeaseRequest();
        v.Require(request.Lease is not null, "lease is missing: it says what every workspace of the group is (image, resources, duration)");
        var (kind, start, queueLimit) = WireMapping.ToKind(lease, v);
        v.Require(kind != Domain.LeaseKind.BestEffort, LeaseManager.BestEffortGroup);
        var caller = Caller.Of(context);
        var leaseRequest = WireMapping.ToLeaseRequest(lease, caller.User, v) with
        {
            Kind = kind, Start = start, QueueLimit = queueLimit, Project = caller.LeaseProject,
        };
        var group = await leases.CreateGroupAsync(leaseRequest, count, context.CancellationToken);
        var response = new CreateLeasesResponse { Group = lease.DryRun ? string.Empty : group.Id };
        foreach (var member in group.Leases)
        {
            var wire = WireMapping.ToWire(member);
            if (lease.DryRun)
            {
                // Nothing was stored: the answer has no ids to look up.
                wire.Id = string.Empty;
                wire.Group = string.Empty;
            }

            response.Leases.Add(wire);
        }

        return response;
    }

    public override Task<Lease> GetLease(GetLeaseRequest request, ServerCallContext context) =>
        Task.FromResult(WireMapping.ToWire(Visible(LeaseIdOf("GetLease", request.Id), context)));

    public override Task<ListLeasesResponse> ListLeases(ListLeasesRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("ListLeases");
        LeasePosition? after = null;
        if (request.PageToken.Length > 0 && !LeasePosition.TryParseToken(request.PageToken, out after, out var problem))
        {
            v.Require(false, "page_token " + problem);
        }

        string? group = null;
        if (request.Group.Length > 0)
        {
            v.Require(Domain.LeaseGroup.IsValidId(request.Group, out var groupProblem), "group " + groupProblem);
            group = request.Group;
        }

        v.ThrowIfInvalid();
        var size = request.PageSize == 0 ? LeasePage.DefaultSize : (int)Math.Min(request.PageSize, LeasePage.MaxSize);
        var caller = Caller.Of(context);
        var page = leases.ListPage(request.IncludeEnded, after, size, caller.IsAdmin ? null : caller.Project, group);
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
        Visible(id, context);
        return WireMapping.ToWire(await leases.ExtendAsync(id, by, context.CancellationToken));
    }

    public override async Task<Lease> ReleaseLease(ReleaseLeaseRequest request, ServerCallContext context) =>
        WireMapping.ToWire(await leases.ReleaseAsync(Visible(LeaseIdOf("ReleaseLease", request.Id), context).Id, context.CancellationToken));

    public override async Task<Lease> SetLeasePower(SetLeasePowerRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("SetLeasePower");
        var id = v.LeaseId("id", request.Id);
        var action = v.PowerAction("action", request.Action);
        v.ThrowIfInvalid();
        Visible(id, context);
        return WireMapping.ToWire(await leases.SetPowerAsync(id, action, context.CancellationToken));
    }

    public override async Task<Lease> SaveLease(SaveLeaseRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("SaveLease");
        var id = v.LeaseId("id", request.Id);
        var name = v.Name("image_name", request.ImageName);
        v.Require(ImageSyntax.IsValidDescription(request.Description, out var problem), "description " + problem);
        v.ThrowIfInvalid();
        Visible(id, context);
        return WireMapping.ToWire(await leases.SaveAsync(id, name, request.Description, context.CancellationToken));
    }

    public override async Task WatchLease(GetLeaseRequest request, IServerStreamWriter<Lease> responses, ServerCallContext context)
    {
        var id = Visible(LeaseIdOf("WatchLease", request.Id), context).Id;
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

    /// <summary>The lease, if the caller may see it; otherwise NOT_FOUND, as for a lease that does not exist.</summary>
    private DomainLease Visible(DomainLeaseId id, ServerCallContext context)
    {
        var lease = leases.Get(id);
        return Caller.Of(context).MaySee(lease.Project) ? lease : throw new LeaseNotFoundException(id);
    }
}
