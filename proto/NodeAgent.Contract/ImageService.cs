using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;
using NodeAgent.Rpc.Server;

namespace NodeAgent.Contract.V1;

/// <summary>The methods of <c>nodeagent.v1.ImageService</c> (image.proto): the image catalogue.</summary>
public static class ImageServiceMethods
{
    public const string ServiceName = "nodeagent.v1.ImageService";

    public static readonly Method<ListImagesRequest, ListImagesResponse> ListImages =
        Method.Unary(ServiceName, nameof(ListImages), ListImagesRequest.Parser, ListImagesResponse.Parser);

    public static readonly Method<GetImageRequest, Image> GetImage =
        Method.Unary(ServiceName, nameof(GetImage), GetImageRequest.Parser, Image.Parser);

    public static readonly Method<AddImageRequest, Image> AddImage =
        Method.Unary(ServiceName, nameof(AddImage), AddImageRequest.Parser, Image.Parser);

    public static readonly Method<RetireImageRequest, Image> RetireImage =
        Method.Unary(ServiceName, nameof(RetireImage), RetireImageRequest.Parser, Image.Parser);
}

/// <summary>Server side of <c>nodeagent.v1.ImageService</c>; methods not overridden answer UNIMPLEMENTED.</summary>
public abstract class ImageServiceBase : IRpcService
{
    public virtual Task<ListImagesResponse> ListImages(ListImagesRequest request, ServerCallContext context) =>
        throw NotImplemented.For(ImageServiceMethods.ListImages.Path);

    public virtual Task<Image> GetImage(GetImageRequest request, ServerCallContext context) =>
        throw NotImplemented.For(ImageServiceMethods.GetImage.Path);

    public virtual Task<Image> AddImage(AddImageRequest request, ServerCallContext context) =>
        throw NotImplemented.For(ImageServiceMethods.AddImage.Path);

    public virtual Task<Image> RetireImage(RetireImageRequest request, ServerCallContext context) =>
        throw NotImplemented.For(ImageServiceMethods.RetireImage.Path);

    public void Bind(RpcServiceRegistry registry) => registry
        .AddUnary(ImageServiceMethods.ListImages, ListImages)
        .AddUnary(ImageServiceMethods.GetImage, GetImage)
        .AddUnary(ImageServiceMethods.AddImage, AddImage)
        .AddUnary(ImageServiceMethods.RetireImage, RetireImage);
}

/// <summary>Client of <c>nodeagent.v1.ImageService</c>.</summary>
public sealed class ImageServiceClient(RpcChannel channel)
{
    public Task<ListImagesResponse> ListImagesAsync(ListImagesRequest request, CallOptions options = default) =>
        channel.UnaryAsync(ImageServiceMethods.ListImages, request, options);

    public Task<Image> GetImageAsync(GetImageRequest request, CallOptions options = default) =>
        channel.UnaryAsync(ImageServiceMethods.GetImage, request, options);

    public Task<Image> AddImageAsync(AddImageRequest request, CallOptions options = default) =>
        channel.UnaryAsync(ImageServiceMethods.AddImage, request, options);

    public Task<Image> RetireImageAsync(RetireImageRequest request, CallOptions options = default) =>
        channel.UnaryAsync(ImageServiceMethods.RetireImage, request, options);
}
