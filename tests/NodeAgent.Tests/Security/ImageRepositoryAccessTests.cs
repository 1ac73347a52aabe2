using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Contract;
using NodeAgent.Contract.V1;
using NodeAgent.Scheduler.Images;
using NodeAgent.Scheduler.Security;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Security;

/// <summary>
/// The image repository's HTTP side with --auth token: reads need a download grant or an admin's or agent's token,
/// uploads an upload grant or an admin's token; hosts get signed URLs in their desired workspaces.
/// </summary>
public sealed class ImageRepositoryAccessTests
{
    private static readonly byte[] Blob = "a tiny image"u8.ToArray();
    private static readonly string Digest = Convert.ToHexStringLower(SHA256.HashData(Blob));

    private static async Task<HttpStatusCode> SendAsync(HttpMethod method, string url, string? token = null, byte[]? body = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : new ByteArrayContent(body) };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact(Timeout = 30_000)]
    public async Task Upload_NeedsAnAdminToken_OrAnUploadGrant_ReadNeedsAdminOrAgentTokenOrADownloadGrant()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        var repository = secured.Scheduler.Repository.PublicUrl!.AbsoluteUri.TrimEnd('/');
        var blob = $"{repository}/sha256/{Digest}";
        var user = await secured.UserAsync("alice", "physics");
        var agent = await secured.AgentAsync("h1");
        var grants = secured.Scheduler.Service<ImageGrants>();

        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Put, blob, body: Blob));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Put, blob, user, Blob));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Put, blob, agent, Blob));
        Assert.Equal(HttpStatusCode.Created, await SendAsync(HttpMethod.Put, blob, secured.Admin, Blob));

        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, blob));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, blob, user));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, blob, agent));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Head, blob, secured.Admin));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, grants.SignDownload(blob, Digest)));
        var otherDigest = new string('a', 64);
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, grants.SignDownload($"{repository}/sha256/{otherDigest}", Digest)));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, grants.SignDownload(blob, Digest).Replace("grant=", "grant=A", StringComparison.Ordinal)[..^1]));

        // A host saving a workspace: the upload URL's grant, through the same client the agent uses.
        var upload = grants.SignUpload(repository, "w-savedlease", 3);
        var file = Path.Combine(secured.Scheduler.Directory.Path, "saved.img");
        await File.WriteAllBytesAsync(file, "a saved disk"u8.ToArray());
        var digest = await ImageUpload.ComputeSha256Async(file, CancellationToken.None);
        using var client = new ImageUpload(new ImageUploadOptions { Retries = 0 });
        Assert.Equal(digest, (await client.UploadAsync(new Uri(upload), file, digest, null, CancellationToken.None)).Sha256);
        var other = Path.Combine(secured.Scheduler.Directory.Path, "other.img");
        await File.WriteAllBytesAsync(other, "another disk"u8.ToArray());
        var otherDigest2 = await ImageUpload.ComputeSha256Async(other, CancellationToken.None);
        var forged = new Uri(upload.Replace("generation=3", "generation=4", StringComparison.Ordinal));
        var refused = await Assert.ThrowsAsync<ImageUploadException>(() => client.UploadAsync(forged, other, otherDigest2, null, CancellationToken.None));
        Assert.Equal((int?)401, refused.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Grants_ExpireAfterTheirDay()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var secured = await SecuredScheduler.StartAsync(clock);
        var repository = secured.Scheduler.Repository.PublicUrl!.AbsoluteUri.TrimEnd('/');
        var blob = $"{repository}/sha256/{Digest}";
        Assert.Equal(HttpStatusCode.Created, await SendAsync(HttpMethod.Put, blob, secured.Admin, Blob));
        var signed = secured.Scheduler.Service<ImageGrants>().SignDownload(blob, Digest);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, signed));

        clock.Advance(ImageGrants.Lifetime + TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));

        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, signed));
    }

    [Fact(Timeout = 30_000)]
    public async Task DesiredWorkspaces_ImagesInTheRepository_ComeSigned_AndTheSignedUrlReadsTheImage()
    {
        await using var secured = await SecuredScheduler.StartAsync();
        var repository = secured.Scheduler.Repository.PublicUrl!.AbsoluteUri.TrimEnd('/');
        Assert.Equal(HttpStatusCode.Created, await SendAsync(HttpMethod.Put, $"{repository}/sha256/{Digest}", secured.Admin, Blob));
        using (var admin = secured.Channel(secured.Admin))
        {
            await new ImageServiceClient(admin).AddImageAsync(new AddImageRequest
            {
                Name = "stored", Format = ImageFormat.Raw, SizeBytes = (ulong)Blob.Length, Sha256 = Digest, Url = $"{repository}/sha256/{Digest}",
            });
        }

        var agentToken = await secured.HostAsync("h1");
        using (var user = secured.Channel(await secured.UserAsync("alice", "physics")))
        {
            var request = SecuredScheduler.Lease();
            request.Image = "stored";
            await new LeaseServiceClient(user).CreateLeaseAsync(request);
        }

        using var agent = secured.Channel(agentToken);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        DesiredWorkspaces? desired = null;
        await foreach (var set in new AgentServiceClient(agent).WatchDesiredWorkspacesAsync(new WatchDesiredWorkspacesRequest { HostId = "h1" },
            new NodeAgent.Rpc.Client.CallOptions { CancellationToken = cancel.Token }))
        {
            if (set.Workspaces.Count > 0)
            {
                desired = set;
                break;
            }
        }

        var url = Assert.Single(desired!.Workspaces).Image.Url;
        Assert.Contains("grant=", url, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, url));
        Assert.True(ImageSyntax.TryParseSource(url, out _, out var problem), problem);
    }
}
