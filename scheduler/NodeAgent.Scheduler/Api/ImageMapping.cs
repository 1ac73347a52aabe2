using Google.Protobuf.WellKnownTypes;
using NodeAgent.Scheduler.Domain;
using NodeAgent.Scheduler.Images;
using V1 = NodeAgent.Contract.V1;

namespace NodeAgent.Scheduler.Api;

/// <summary>Turns catalogue images into wire messages, and the wire's image values into the catalogue's types.</summary>
internal static class ImageMapping
{
    public static V1.Image ToWire(Image image) => new()
    {
        Name = image.Name,
        Version = image.Version,
        Format = ImageCatalogue.ToWire(image.Format),
        SizeBytes = (ulong)image.SizeBytes,
        Sha256 = image.Sha256,
        Url = image.Url,
        Owner = image.Owner,
        State = image.IsActive ? V1.ImageState.Active : V1.ImageState.Retired,
        Kernel = image.Kernel?.ToString() ?? string.Empty,
        Initrd = image.Initrd?.ToString() ?? string.Empty,
        KernelCmdline = image.KernelCmdline,
        CreatedAt = Timestamp.FromDateTimeOffset(image.CreatedAt),
        RetiredAt = image.RetiredAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
        Description = image.Description,
        SavedFromLease = image.SavedFromLease,
    };

    /// <summary>UNSPECIFIED is read as qcow2; values this scheduler does not know are refused, naming the allowed ones.</summary>
    public static ImageFormat Format(string field, V1.ImageFormat value, RequestValidator v)
    {
        switch (value)
        {
            case V1.ImageFormat.Unspecified or V1.ImageFormat.Qcow2: return ImageFormat.Qcow2;
            case V1.ImageFormat.Raw: return ImageFormat.Raw;
            case V1.ImageFormat.Kernel: return ImageFormat.Kernel;
            case V1.ImageFormat.Initrd: return ImageFormat.Initrd;
            default:
                v.Require(false, $"{field} is {(int)value}; it must be one of IMAGE_FORMAT_QCOW2, IMAGE_FORMAT_RAW, IMAGE_FORMAT_KERNEL, IMAGE_FORMAT_INITRD");
                return ImageFormat.Qcow2;
        }
    }

    /// <summary>An optional "NAME" or "NAME:VERSION"; null when empty or malformed (the problem is recorded).</summary>
    public static ImageKey? OptionalKey(string field, string text, RequestValidator v)
    {
        if (text.Length == 0)
        {
            return null;
        }

        var valid = ImageKey.TryParse(text, out var key, out var problem);
        v.Require(valid, $"{field} {problem}");
        return valid ? key : null;
    }
}
