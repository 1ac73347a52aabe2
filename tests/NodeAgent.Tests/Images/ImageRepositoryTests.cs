using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc.Client;
using NodeAgent.Tests.Images.RepositoryKit;

namespace NodeAgent.Tests.Images;

/// <summary>The scheduler's image repository over real HTTP on loopback, its files on the real file system.</summary>
public sealed class ImageRepositoryTests : IAsyncLifetime
{
    private static readonly byte[] Image = TestImages.Bytes(1_000_000, seed: 1);
    private static readonly string Digest = TestImages.Sha256(Image);

    private ImageRepositoryHost _host = null!;

    public async Task InitializeAsync() => _host = await ImageRepositoryHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact(Timeout = 20_000)]
    public async Task Put_ThenGet_SameBytesWithDigestHeaders()
    {
        using var put = await _host.PutAsync(Digest, Image);

        using var get = await _host.Http.GetAsync(_host.ImageUri(Digest));
        var bytes = await get.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal($"/v1/images/sha256/{Digest}", put.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Image, bytes);
        Assert.Equal("application/octet-stream", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Image.Length, get.Content.Headers.ContentLength);
        Assert.Equal($"\"{Digest}\"", get.Headers.ETag?.Tag);
        Assert.Equal(["bytes"], get.Headers.AcceptRanges);
        Assert.True(_host.Repository.Contains(Digest));
        Assert.Equal(Image.Length, _host.Repository.SizeOf(Digest));
        Assert.Equal(Image, await File.ReadAllBytesAsync(_host.Repository.PathOf(Digest)));
        Assert.Empty(_host.TemporaryFiles());
    }

    [Theory(Timeout = 20_000)]
    [InlineData("bytes=1000-", 1000, 999_999)]
    [InlineData("bytes=10-19", 10, 19)]
    [InlineData("bytes=999990-2000000", 999_990, 999_999)]
    [InlineData("bytes=-100", 999_900, 999_999)]
    [InlineData("bytes=0-0", 0, 0)]
    public async Task Get_SingleRange_PartialContentWithContentRange(string range, int first, int last)
    {
        using var put = await _host.PutAsync(Digest, Image);
        using var request = new HttpRequestMessage(HttpMethod.Get, _host.ImageUri(Digest));
        request.Headers.TryAddWithoutValidation("Range", range);

        using var response = await _host.Http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes {first}-{last}/{Image.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(Image.AsSpan(first, last - first + 1).ToArray(), bytes);
    }

    [Theory(Timeout = 20_000)]
    [InlineData("bytes=1000000-")]
    [InlineData("bytes=2000000-2000010")]
    [InlineData("bytes=-0")]
    public async Task Get_RangeOutsideTheImage_416WithSize(string range)
    {
        using var put = await _host.PutAsync(Digest, Image);
        using var request = new HttpRequestMessage(HttpMethod.Get, _host.ImageUri(Digest));
        request.Headers.TryAddWithoutValidation("Range", range);

        using var response = await _host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal($"bytes */{Image.Length}", response.Content.Headers.ContentRange?.ToString());
    }

    [Theory(Timeout = 20_000)]
    [InlineData("bytes=5-1")] // last before first: malformed, so ignored
    [InlineData("bytes=0-1,5-6")] // several ranges: not served, the whole image is
    [InlineData("items=0-1")]
    public async Task Get_RangeIgnored_WholeImage(string range)
    {
        using var put = await _host.PutAsync(Digest, Image);
        using var request = new HttpRequestMessage(HttpMethod.Get, _host.ImageUri(Digest));
        request.Headers.TryAddWithoutValidation("Range", range);

        using var response = await _host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Image, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_IfRangeWithAnotherEtag_WholeImage()
    {
        using var put = await _host.PutAsync(Digest, Image);
        using var request = new HttpRequestMessage(HttpMethod.Get, _host.ImageUri(Digest));
        request.Headers.Range = new RangeHeaderValue(10, 19);
        request.Headers.IfRange = new RangeConditionHeaderValue("\"somethingelse\"");

        using var response = await _host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Image.Length, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact(Timeout = 20_000)]
    public async Task Head_StoredImage_HeadersAndNoBody()
    {
        using var put = await _host.PutAsync(Digest, Image);

        using var head = await _host.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, _host.ImageUri(Digest)));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(Image.Length, head.Content.Headers.ContentLength);
        Assert.Equal($"\"{Digest}\"", head.Headers.ETag?.Tag);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact(Timeout = 20_000)]
    public async Task GetAndHead_UnknownDigest_404SayingHowToAddIt()
    {
        using var head = await _host.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, _host.ImageUri(Digest)));
        using var get = await _host.Http.GetAsync(_host.ImageUri(Digest));

        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Contains($"sha256 {Digest} is not in this repository", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(_host.Repository.Contains(Digest));
        Assert.Null(_host.Repository.SizeOf(Digest));
    }

    [Fact(Timeout = 20_000)]
    public async Task Put_BytesOfAnotherDigest_400NamingBothAndNothingStored()
    {
        var claimed = TestImages.Sha256(TestImages.Bytes(10, seed: 2));

        using var put = await _host.PutAsync(claimed, Image);
        var message = await put.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("text/plain", put.Content.Headers.ContentType?.MediaType);
        Assert.Contains(Digest, message, StringComparison.Ordinal);
        Assert.Contains(claimed, message, StringComparison.Ordinal);
        Assert.False(_host.Repository.Contains(claimed));
        Assert.False(_host.Repository.Contains(Digest));
        Assert.Empty(_host.TemporaryFiles());
    }

    [Theory(Timeout = 20_000)]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")] // upper case
    [InlineData("abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678")] // 63 digits
    [InlineData("abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567890")] // 65
    [InlineData("xyzdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")]
    [InlineData("latest")]
    public async Task GetAndPut_NotADigest_400(string digest)
    {
        using var get = await _host.Http.GetAsync(new Uri(_host.ImagesUrl + "/sha256/" + digest));
        using var put = await _host.Http.PutAsync(new Uri(_host.ImagesUrl + "/sha256/" + digest), new ByteArrayContent(Image));

        Assert.Equal(HttpStatusCode.BadRequest, get.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Contains("64 lower-case hex digits", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_host.Repository.Directory, "sha256")));
    }

    [Theory(Timeout = 20_000)]
    [InlineData("/v1/images/sha256/../../etc/passwd", 404)] // Kestrel removes the dot segments: /etc/passwd is no image path
    [InlineData("/v1/images/sha256/%2e%2e/%2e%2e/etc/passwd", 404)]
    [InlineData("/v1/images/sha256/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd", 404)]
    [InlineData("/v1/images/sha256/..%2f..%2f..%2fetc%2fpasswd", 400)] // an encoded slash stays in the segment: no digest
    [InlineData("/v1/images/sha256/..%2F..%2F..%2Fetc%2Fpasswd", 400)]
    [InlineData("/v1/images/sha256/%252e%252e%252fetc%252fpasswd", 400)]
    [InlineData("/v1/images/sha256/..\\..\\etc\\passwd", 400)]
    [InlineData("/v1/images/sha256//etc/passwd", 400)]
    [InlineData("/v1/images/../../../../etc/passwd", 404)]
    public async Task Get_PathTraversal_RefusedWithoutTheFile(string target, int expected)
    {
        var (status, text) = await RawHttp.RequestAsync(_host.ImagesUrl, "GET", target);

        Assert.Equal(expected, status);
        Assert.DoesNotContain("root:", text, StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Put_OverTheLimit_413BeforeStoringAnything()
    {
        await using var small = await ImageRepositoryHost.StartAsync(o => o with { ImageMaxSizeBytes = 100_000 });

        using var put = await small.PutAsync(Digest, Image);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, put.StatusCode);
        Assert.Contains("at most 100000 bytes", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(small.Repository.Directory, "sha256")));
    }

    [Fact(Timeout = 20_000)]
    public async Task Put_Chunked_411()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, _host.ImageUri(Digest)) { Content = new StreamContent(new MemoryStream(Image)) };
        request.Headers.TransferEncodingChunked = true;

        using var put = await _host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.LengthRequired, put.StatusCode);
        Assert.Contains("Content-Length", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(_host.Repository.Contains(Digest));
    }

    [Fact(Timeout = 20_000)]
    public async Task Put_Again_200AndTheFileUnchanged()
    {
        using var first = await _host.PutAsync(Digest, Image);
        var written = File.GetLastWriteTimeUtc(_host.Repository.PathOf(Digest));

        using var second = await _host.PutAsync(Digest, Image);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Contains("already stored", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(written, File.GetLastWriteTimeUtc(_host.Repository.PathOf(Digest)));
    }

    [Fact(Timeout = 20_000)]
    public async Task Put_StoredDigestWithAnotherLength_400()
    {
        using var first = await _host.PutAsync(Digest, Image);

        using var second = await _host.PutAsync(Digest, Image[..1000]);

        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.Contains($"stored here with {Image.Length} bytes, but this upload has 1000", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(Image, await File.ReadAllBytesAsync(_host.Repository.PathOf(Digest)));
    }

    [Fact(Timeout = 30_000)]
    public async Task Put_SameDigestConcurrently_OneCreatesTheOthersFindIt()
    {
        var uploads = Enumerable.Range(0, 6).Select(_ => _host.PutAsync(Digest, Image)).ToList();

        var responses = await Task.WhenAll(uploads);

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(Image, await File.ReadAllBytesAsync(_host.Repository.PathOf(Digest)));
        Assert.Empty(_host.TemporaryFiles());
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Put_ClientResetsMidway_NoTemporaryFileLeft()
    {
        using var client = await RawHttp.ConnectAsync(_host.ImagesUrl);
        await client.SendHeadAsync($"PUT /v1/images/sha256/{Digest} HTTP/1.1\r\nHost: x\r\nContent-Length: {Image.Length}\r\n\r\n");
        await client.SendAsync(Image.AsMemory(0, 300_000));
        await Eventually.TrueAsync(() => _host.TemporaryFiles().Length == 1, "the upload's temporary file appears");

        client.Reset();

        await Eventually.TrueAsync(() => _host.TemporaryFiles().Length == 0, "the temporary file is removed");
        Assert.False(_host.Repository.Contains(Digest));
    }

    [Fact(Timeout = 20_000)]
    public async Task Put_BodyShorterThanItsLength_NothingStored()
    {
        using (var client = await RawHttp.ConnectAsync(_host.ImagesUrl))
        {
            await client.SendHeadAsync($"PUT /v1/images/sha256/{Digest} HTTP/1.1\r\nHost: x\r\nContent-Length: {Image.Length}\r\n\r\n");
            await client.SendAsync(Image.AsMemory(0, 1000));
            client.Stream.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            await client.ReadUntilClosedAsync();
        }

        await Eventually.TrueAsync(() => _host.TemporaryFiles().Length == 0, "the temporary file is removed");
        Assert.False(_host.Repository.Contains(Digest));
    }

    [Fact(Timeout = 20_000)]
    public async Task Delete_405WithAllow()
    {
        using var response = await _host.Http.DeleteAsync(_host.ImageUri(Digest));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["GET", "HEAD", "PUT"], response.Content.Headers.Allow);
    }

    [Fact(Timeout = 20_000)]
    public async Task ImagePath_OnTheGrpcListener_404NamingTheRepository_AndGrpcStillServed()
    {
        using var put = await _host.PutAsync(Digest, Image);
        using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var viaGrpc = await h2c.GetAsync(new Uri(_host.GrpcAddress, $"/v1/images/sha256/{Digest}"));
        using var channel = new RpcChannel(_host.GrpcAddress);
        var hosts = await new HostServiceClient(channel).ListHostsAsync(new ListHostsRequest());

        Assert.Equal(HttpStatusCode.NotFound, viaGrpc.StatusCode);
        Assert.Contains(_host.ImagesUrl.ToString(), await viaGrpc.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(hosts.Hosts);
    }

    [Theory(Timeout = 20_000)]
    [InlineData("/")]
    [InlineData("/nodeagent.v1.HostService/ListHosts")]
    [InlineData("/v1/imagesX/sha256/0")]
    [InlineData("/v1/images/md5/0")]
    [InlineData("/v1/images/sha256")]
    public async Task OtherPaths_OnTheImageListener_404(string path)
    {
        using var response = await _host.Http.GetAsync(new Uri(_host.ImagesUrl, path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("/v1/images/sha256/", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 20_000)]
    public async Task Curl_RangeDownload_TheRightBytes()
    {
        using var put = await _host.PutAsync(Digest, Image);
        var output = Path.Combine(_host.Directory.Path, "part");

        using var curl = Process.Start(new ProcessStartInfo("curl", ["-sS", "-f", "-r", "500000-500099", "-o", output, "-w", "%{http_code}", _host.ImageUri(Digest).ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var status = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync();

        Assert.True(curl.ExitCode == 0, await curl.StandardError.ReadToEndAsync());
        Assert.Equal("206", status);
        Assert.Equal(Image.AsSpan(500_000, 100).ToArray(), await File.ReadAllBytesAsync(output));
    }

    [Fact]
    public void PublicUrl_IsTheBoundImageListener()
    {
        var url = _host.ImagesUrl;

        Assert.Equal("127.0.0.1", url.Host);
        Assert.NotEqual(0, url.Port);
        Assert.NotEqual(_host.GrpcAddress.Port, url.Port);
        Assert.Equal("/v1/images", url.AbsolutePath);
    }
}
