using NodeAgent.Contract;
using NodeAgent.Rpc.Server;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Images;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>
/// nodeagent.v1.ImageService: translates ws's calls into <see cref="ImageCatalogue"/> commands.
/// <paramref name="repositoryUrl"/> supplies where this scheduler's image repository takes uploads (null: it has none).
/// </summary>
internal sealed class ImageApi(ImageCatalogue catalogue, Func<string?> repositoryUrl) : V1.ImageServiceBase
{
    public override Task<V1.ListImagesResponse> ListImages(V1.ListImagesRequest request, ServerCallContext context)
    {
        if (request.Name.Length > 0)
        {
            NameOf("ListImages", request.Name);
        }

        var response = new V1.ListImagesResponse { RepositoryUrl = repositoryUrl() ?? string.Empty };
        response.Images.Add(catalogue.List(request.IncludeRetired, request.Name).Select(ImageMapping.ToWire));
        return Task.FromResult(response);
    }

    public override Task<V1.Image> GetImage(V1.GetImageRequest request, ServerCallContext context) =>
        Task.FromResult(ImageMapping.ToWire(catalogue.Get(NameOf("GetImage", request.Name), request.Version)));

    public override async Task<V1.Image> AddImage(V1.AddImageRequest request, ServerCallContext context)
    {
        var v = new RequestValidator("AddImage");
        var owner = Security.Caller.Of(context).User;
        var format = ImageMapping.Format("format", request.Format, v);
        var size = v.Range("size_bytes", request.SizeBytes, 0, ImageSyntax.MaxSizeBytes);
        var image = new NewImage(
            request.Name, format, size, request.Sha256, request.Url, owner,
            ImageMapping.OptionalKey("kernel", request.Kernel, v), ImageMapping.OptionalKey("initrd", request.Initrd, v),
            request.KernelCmdline, request.Description);
        var problems = ImageCatalogue.FieldProblems(image)
            .Concat(ImageShape.Problems(format, request.Kernel.Length > 0, request.Initrd.Length > 0, request.KernelCmdline.Length > 0))
            .Concat(catalogue.ReferenceProblems(image));
        foreach (var problem in problems)
        {
            v.Require(false, problem);
        }

        v.ThrowIfInvalid();
        return ImageMapping.ToWire(await catalogue.AddAsync(image, context.CancellationToken));
    }

    public override async Task<V1.Image> RetireImage(V1.RetireImageRequest request, ServerCallContext context) =>
        ImageMapping.ToWire(await catalogue.RetireAsync(NameOf("RetireImage", request.Name), request.Version, context.CancellationToken));

    private static string NameOf(string method, string name)
    {
        var v = new RequestValidator(method);
        v.Name("name", name);
        v.ThrowIfInvalid();
        return name;
    }
}
