using System.CommandLine;
using System.Globalization;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;
using NodeAgent.Rpc;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws image list|show|add|retire</c>: the scheduler's image catalogue.</summary>
public static class ImageCommands
{
    private static readonly string[] Formats = ["qcow2", "raw", "kernel", "initrd"];

    /// <summary>The <c>image</c> command; <paramref name="uploader"/> puts files into the repository for <c>add --file</c>.</summary>
    public static Command Create(GlobalOptions options, IImageUploader? uploader = null) =>
        new ManualCommand("image", "The image catalogue: the base images workspaces boot from.", """
            An image is a name and a version: `ws image add NAME` adds version 1 of a new name, or the next
            version of an existing one, and `ws lease --image NAME` boots the newest active version. The bytes
            stay where the image's URL says (http://, https://, or file:// for a path every host sees); hosts
            fetch them on first use and check them against the image's sha256. Retired versions are kept for
            the leases made with them, but no new lease may use them.
            """)
        {
            ListCommand(options),
            ShowCommand(options),
            AddCommand(options, uploader ?? new RepositoryUploader()),
            RetireCommand(options),
        };

    private static ManualCommand ListCommand(GlobalOptions options)
    {
        var all = new Option<bool>("--all", "-a") { Description = "Include retired versions." };
        var name = new Argument<string?>("NAME") { Description = "Only this image's versions.", Arity = ArgumentArity.ZeroOrOne };
        var command = new ManualCommand("list", "List the catalogue's images, newest version first within a name.", """
            One row per image version: NAME, VERSION, FORMAT, SIZE ('-' when unknown), the first 12 hex digits
            of its SHA256, OWNER, STATE and when it was CREATED (UTC). Retired versions are left out unless
            --all is given. With -o json, ws prints the scheduler's answer, which also says where the
            scheduler's image repository takes uploads (repositoryUrl, empty when it has none).

            Examples:
              ws image list
              ws image list --all debian-12
            """)
        { all, name };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var request = new ListImagesRequest { IncludeRetired = parse.GetValue(all), Name = parse.GetValue(name) ?? string.Empty };
            var response = await new ImageServiceClient(context.Channel).ListImagesAsync(request, context.Call);
            context.Write(response, () => ImageView.RenderList(response.Images));
        }, token));
        return command;
    }

    private static ManualCommand ShowCommand(GlobalOptions options)
    {
        var image = new Argument<string>("NAME[:VERSION]") { Description = "The image; without a version, its newest active one." };
        var command = new ManualCommand("show", "Show one image version in full.", """
            Prints every field of the version: state (and since when it is retired), format, size, sha256,
            URL, owner, the kernel and initrd it boots with (exact versions) and their command line, its
            description, and the lease it was saved from. Without :VERSION, the newest active version is
            shown; a retired version is shown when asked for by number.

            Examples:
              ws image show debian-12
              ws image show debian-12:3 -o json
            """)
        { image };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var (name, version) = Parsing.ImageName(parse.GetValue(image)!, "IMAGE");
            var found = await new ImageServiceClient(context.Channel).GetImageAsync(new GetImageRequest { Name = name, Version = version }, context.Call);
            context.Write(found, () => ImageView.Render(found));
        }, token));
        return command;
    }

    private static ManualCommand RetireCommand(GlobalOptions options)
    {
        var image = new Argument<string>("NAME[:VERSION]") { Description = "The version to retire; without a version, every version." };
        var command = new ManualCommand("retire", "Retire an image version (or every version): no new lease may use it; running leases keep it.", """
            A retired version stays in the catalogue (`ws image list --all`): leases made with it keep
            running, hosts keep it cached while they do, and disk images that boot with a retired kernel or
            initrd keep booting with it. `ws lease --image NAME` then takes the newest version still active.
            Without :VERSION every version of the name is retired. Retiring a retired version changes nothing.

            Examples:
              ws image retire debian-12:2
              ws image retire old-image
            """)
        { image };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var (name, version) = Parsing.ImageName(parse.GetValue(image)!, "IMAGE");
            var retired = await new ImageServiceClient(context.Channel).RetireImageAsync(new RetireImageRequest { Name = name, Version = version }, context.Call);
            context.Write(retired, () => version == 0
                ? $"Retired every version of {retired.Name} (newest: {retired.Version}).\n"
                : $"Retired {retired.Name}:{retired.Version}.\n");
        }, token));
        return command;
    }

    private static ManualCommand AddCommand(GlobalOptions options, IImageUploader uploader)
    {
        var name = new Argument<string>("NAME") { Description = "The image's name: lower-case letters, digits, '-', '_' and '.'." };
        var url = new Option<string?>("--url") { Description = "Where the bytes are: http://, https://, or file:// for a path every host sees." };
        var file = new Option<string?>("--file") { Description = "A local file to upload into the scheduler's image repository instead of --url." };
        var sha256 = new Option<string?>("--sha256") { Description = "The bytes' sha256, 64 lower-case hex digits (as sha256sum prints it). Required with --url." };
        var size = new Option<string?>("--size") { Description = "The size in bytes, or e.g. 64M, 2G (with --url; optional: hosts learn it from the download)." };
        var format = new Option<string?>("--format") { Description = "qcow2 (the default), raw, kernel or initrd." };
        format.AcceptOnlyFromAmong(Formats);
        var kernel = new Option<string?>("--kernel") { Description = "A kernel image to boot this disk image with, as NAME (its newest active version) or NAME:VERSION." };
        var initrd = new Option<string?>("--initrd") { Description = "An initrd image to boot with the kernel, as NAME or NAME:VERSION." };
        var cmdline = new Option<string?>("--cmdline") { Description = "The kernel command line (with --kernel), e.g. \"root=/dev/vda1 console=ttyS0\"." };
        var description = new Option<string?>("--description") { Description = "A line saying what the image is, shown by `ws image show`." };
        var command = new ManualCommand("add", "Add an image, or the next version of one, by URL or by uploading a file.", """
            Adds NAME's next version (version 1 for a new name) owned by you. Give either --url and --sha256,
            for bytes served elsewhere, or --file: ws then computes the file's sha256 and size itself and
            uploads it into the scheduler's own image repository (shown on stderr when it is a terminal);
            a file the repository holds already is not sent again. --file needs a scheduler started with
            --image-listen; without a repository ws says so and exits with status 1.

            Formats: qcow2 and raw are disk images workspaces boot from; kernel and initrd are for disk
            images booted with a kernel from outside the disk. Such a disk image names them with --kernel and
            --initrd (NAME for the newest active version, or NAME:VERSION); the versions are fixed when the
            image is added. An initrd needs a kernel, and --cmdline is only passed to an outside kernel.
            The scheduler checks every value and lists every problem at once.

            Examples:
              ws image add debian-12 --url https://images.example/debian-12.qcow2 --sha256 $(sha256sum debian-12.qcow2 | cut -d' ' -f1) --size 2G
              ws image add my-disk --file ./disk.qcow2 --description "Debian 12 with the lab's tools"
              ws image add vmlinuz-6.1 --format kernel --file /boot/vmlinuz-6.1.0-18-amd64
              ws image add tiny --url file:///srv/images/tiny.raw --sha256 HEX --format raw --kernel vmlinuz-6.1 --cmdline "root=/dev/vda console=ttyS0"
            """)
        { name, url, file, sha256, size, format, kernel, initrd, cmdline, description };
        command.SetAction((parse, token) => CommandContext.RunAsync(parse, options, async context =>
        {
            var request = new AddImageRequest
            {
                Name = parse.GetValue(name)!,
                Format = parse.GetValue(format) switch
                {
                    "raw" => ImageFormat.Raw,
                    "kernel" => ImageFormat.Kernel,
                    "initrd" => ImageFormat.Initrd,
                    "qcow2" => ImageFormat.Qcow2,
                    _ => ImageFormat.Unspecified,
                },
                Kernel = parse.GetValue(kernel) ?? string.Empty,
                Initrd = parse.GetValue(initrd) ?? string.Empty,
                KernelCmdline = parse.GetValue(cmdline) ?? string.Empty,
                Description = parse.GetValue(description) ?? string.Empty,
            };
            var (givenUrl, givenFile, givenSha256, givenSize) = (parse.GetValue(url), parse.GetValue(file), parse.GetValue(sha256), parse.GetValue(size));
            if ((givenUrl is null) == (givenFile is null))
            {
                throw new UsageException("give either --url URL with --sha256 HEX, or --file PATH (see `ws image add --help`)");
            }

            if (givenFile is not null)
            {
                await UploadAsync(context, uploader, request, givenFile, givenSha256, givenSize);
            }
            else
            {
                request.Url = givenUrl!;
                request.Sha256 = givenSha256 ?? throw new UsageException("--sha256 is required with --url; compute it with `sha256sum FILE`");
                request.SizeBytes = givenSize is null ? 0 : Parsing.Size(givenSize, "--size");
            }

            var added = await new ImageServiceClient(context.Channel).AddImageAsync(request, context.Call);
            context.Write(added, () => ImageView.Render(added));
        }, token));
        return command;
    }

    /// <summary>Hashes and uploads the file into the scheduler's repository, and points the request at it.</summary>
    private static async Task UploadAsync(CommandContext context, IImageUploader uploader, AddImageRequest request, string file, string? sha256, string? size)
    {
        if (size is not null)
        {
            throw new UsageException("--size goes with --url only; with --file, ws measures the file itself");
        }

        if (!File.Exists(file))
        {
            throw new UsageException($"--file {file} does not exist or is not a file");
        }

        var listed = await new ImageServiceClient(context.Channel).ListImagesAsync(new ListImagesRequest { Name = request.Name }, context.Call);
        if (listed.RepositoryUrl.Length == 0 || !Uri.TryCreate(listed.RepositoryUrl, UriKind.Absolute, out var repository))
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                "the scheduler has no image repository to upload to; use --url URL --sha256 HEX for an image served elsewhere, or start the scheduler with --image-listen");
        }

        var digest = await uploader.ComputeSha256Async(file, context.CancellationToken);
        if (sha256 is not null && !string.Equals(sha256, digest, StringComparison.Ordinal))
        {
            throw new UsageException($"--sha256 {Contract.IdSyntax.Printable(sha256)} does not match {file}, whose sha256 is {digest}; check that it is the file you meant");
        }

        var length = new FileInfo(file).Length;
        var progress = Console.IsErrorRedirected ? null : new TerminalProgress(Console.Error, Path.GetFileName(file), length);
        UploadOutcome outcome;
        try
        {
            outcome = await uploader.UploadAsync(repository, file, digest, progress, context.CancellationToken, context.Token);
        }
        catch (Contract.ImageUploadException e)
        {
            throw new RpcException(StatusCode.Unknown, e.Message);
        }

        if (outcome.AlreadyPresent)
        {
            await Console.Error.WriteLineAsync($"ws: the image repository holds {file}'s bytes already; they were not sent again");
        }

        request.Url = RepositoryUploader.BlobUrl(repository, outcome.Sha256).ToString();
        request.Sha256 = outcome.Sha256;
        request.SizeBytes = (ulong)outcome.SizeBytes;
    }
}
