using System.Net;
using NodeAgent.Contract;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler;
using NodeAgent.Tests.Images.RepositoryKit;

namespace NodeAgent.Tests.Images;

/// <summary>
/// The repository on a real 4 MiB tmpfs that fills up, across a restart, and the scheduler's settings for it
/// (disabled, an address of its own).
/// </summary>
public sealed class ImageRepositoryDiskTests
{
    private static readonly byte[] Earlier = TestImages.Bytes(1_000_000, seed: 10);
    private static readonly byte[] Big = TestImages.Bytes(5_000_000, seed: 11);
    private static readonly byte[] Middle = TestImages.Bytes(2_000_000, seed: 12);

    [Fact(Timeout = 30_000)]
    public async Task Put_LargerThanTheFreeSpace_507NamingTheDirectoryAndEarlierImagesRemain()
    {
        using var disk = new SmallTmpfs("4m");
        await using var host = await ImageRepositoryHost.StartAsync(o => o with { ImageRepositoryPath = disk.Path });
        using var earlier = await host.PutAsync(TestImages.Sha256(Earlier), Earlier);

        using var big = await host.PutAsync(TestImages.Sha256(Big), Big);
        var message = await big.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Created, earlier.StatusCode);
        Assert.Equal(HttpStatusCode.InsufficientStorage, big.StatusCode);
        Assert.Contains($"the image repository {disk.Path}", message, StringComparison.Ordinal);
        Assert.Contains("--image-repository on a larger file system", message, StringComparison.Ordinal);
        Assert.Empty(host.TemporaryFiles());
        Assert.Equal(Earlier, await host.Http.GetByteArrayAsync(host.ImageUri(TestImages.Sha256(Earlier))));
    }

    [Fact(Timeout = 30_000)]
    public async Task Put_DiskFillsWhileWriting_507AndNoTemporaryFile()
    {
        using var disk = new SmallTmpfs("4m");
        await using var host = await ImageRepositoryHost.StartAsync(o => o with { ImageRepositoryPath = disk.Path });
        using var earlier = await host.PutAsync(TestImages.Sha256(Earlier), Earlier);
        using var client = await RawHttp.ConnectAsync(host.ImagesUrl);
        await client.SendHeadAsync($"PUT /v1/images/sha256/{TestImages.Sha256(Middle)} HTTP/1.1\r\nHost: x\r\nContent-Length: {Middle.Length}\r\nConnection: close\r\n\r\n");
        await client.SendAsync(Middle.AsMemory(0, 500_000));
        await Eventually.TrueAsync(() => host.TemporaryFiles() is [var file] && new FileInfo(file).Length >= 500_000, "the first half-megabyte is written");

        disk.Fill();
        await client.SendAsync(Middle.AsMemory(500_000));
        var (status, text) = await client.ReadResponseAsync();

        Assert.Equal(507, status);
        Assert.Contains("ran out of space while storing it", text, StringComparison.Ordinal);
        Assert.Empty(host.TemporaryFiles());
        Assert.Equal(Earlier, await host.Http.GetByteArrayAsync(host.ImageUri(TestImages.Sha256(Earlier))));
    }

    [Fact(Timeout = 30_000)]
    public async Task Upload_DiskFull_ImageUploadExceptionWith507AndNoRetry()
    {
        using var disk = new SmallTmpfs("4m");
        await using var host = await ImageRepositoryHost.StartAsync(o => o with { ImageRepositoryPath = disk.Path });
        var file = Path.Combine(host.Directory.Path, "big.img");
        await File.WriteAllBytesAsync(file, Big);
        var delays = 0;
        using var upload = new ImageUpload(new ImageUploadOptions { Delay = (_, _) => { delays++; return Task.CompletedTask; } });

        var error = await Assert.ThrowsAsync<ImageUploadException>(() => upload.UploadAsync(host.ImagesUrl, file, TestImages.Sha256(Big), null, CancellationToken.None));

        Assert.Equal(507, error.StatusCode);
        Assert.Contains(disk.Path, error.Message, StringComparison.Ordinal);
        Assert.Contains("its operator has to free space", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, delays);
        Assert.Empty(host.TemporaryFiles());
    }

    [Fact(Timeout = 30_000)]
    public async Task Start_LeftoverUploads_Removed_StoredImagesKept()
    {
        var directory = new Support.TempDirectory();
        try
        {
            var sha = Path.Combine(directory.Path, "sha256");
            Directory.CreateDirectory(sha);
            await File.WriteAllBytesAsync(Path.Combine(sha, TestImages.Sha256(Earlier)), Earlier);
            await File.WriteAllBytesAsync(Path.Combine(sha, TestImages.Sha256(Middle) + ".upload-0123456789ab"), Middle[..1000]);

            await using var host = await ImageRepositoryHost.StartAsync(o => o with { ImageRepositoryPath = directory.Path });

            Assert.Empty(host.TemporaryFiles());
            Assert.True(host.Repository.Contains(TestImages.Sha256(Earlier)));
            Assert.False(host.Repository.Contains(TestImages.Sha256(Middle)));
        }
        finally
        {
            directory.Dispose();
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task ImageListenNone_NoRepository_OneGrpcAddress()
    {
        await using var scheduler = await ImageRepositoryHost.StartAsync(o => o with { ImageListen = null });

        Assert.Null(scheduler.Repository.PublicUrl);
        Assert.False(scheduler.Repository.Enabled);
        Assert.False(Directory.Exists(scheduler.Repository.Directory));
        Assert.Single(NodeAgent.Scheduler.SchedulerApp.BoundAddresses(scheduler.App));
    }

    [Fact(Timeout = 20_000)]
    public async Task ImageUrl_Given_IsThePublicUrlWithTheImagesPath()
    {
        await using var host = await ImageRepositoryHost.StartAsync(o => o with { ImageUrl = new Uri("https://images.example.org/nodeagent/") });

        Assert.Equal(new Uri("https://images.example.org/nodeagent/v1/images"), host.Repository.PublicUrl);
    }

    [Fact]
    public void Defaults_Valid_RepositoryBesideTheDatabase()
    {
        var options = new SchedulerOptions { DatabasePath = "/srv/sched/scheduler.db" };

        Assert.Empty(options.Validate());
        Assert.Equal("/srv/sched/images", options.ImageRepositoryPath);
        Assert.Equal(SchedulerOptions.DefaultImageListen, options.ImageListen?.ToString());
        Assert.Equal("/elsewhere", (options with { ImageRepositoryPath = "/elsewhere" }).ImageRepositoryPath);
    }

    [Fact]
    public void Validate_ManyMistakes_EveryOneNamedWithItsOption()
    {
        var options = new SchedulerOptions
        {
            Listen = [RpcListenAddress.Parse("http://127.0.0.1:7700")],
            ImageListen = RpcListenAddress.Parse("https://0.0.0.0:7700"),
            ImageUrl = new Uri("ftp://images.example.org/?x=1"),
            ImageRepositoryPath = " ",
            ImageMaxSizeBytes = 0,
        };

        var problems = options.Validate();

        Assert.Collection(problems,
            p => Assert.StartsWith("image-listen: https://0.0.0.0:7700 is https", p, StringComparison.Ordinal),
            p => Assert.StartsWith("image-listen: https://0.0.0.0:7700 takes the port of --listen http://127.0.0.1:7700", p, StringComparison.Ordinal),
            p => Assert.StartsWith("image-url: 'ftp://images.example.org/?x=1' is not an absolute http://", p, StringComparison.Ordinal),
            p => Assert.Equal("image-repository: a directory path is needed", p),
            p => Assert.StartsWith("image-max-size: 0 bytes is outside 1 to", p, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_WildcardWithoutUrl_AsksForImageUrl()
    {
        var problems = new SchedulerOptions { ImageListen = RpcListenAddress.Parse("http://0.0.0.0:7701") }.Validate();

        Assert.Equal(["image-url: needed when --image-listen is a wildcard address (http://0.0.0.0:7701): agents and ws need an address they can reach, e.g. --image-url http://scheduler.example.org:7701"], problems);
    }

    [Fact]
    public void Validate_UrlWithoutListener_SaysItHasNoEffect()
    {
        var problems = new SchedulerOptions { ImageListen = null, ImageUrl = new Uri("http://images.example.org") }.Validate();

        Assert.Equal(["image-url: has no effect with --image-listen none; drop it, or give the repository a listener"], problems);
    }
}
