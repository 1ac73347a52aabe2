using System.Globalization;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary>How catalogue images look to people.</summary>
public static class ImageView
{
    public static string RenderList(IEnumerable<Image> images)
    {
        var table = new Table("NAME", "VERSION", "FORMAT", "SIZE", "SHA256", "OWNER", "STATE", "CREATED");
        foreach (var i in images)
        {
            table.Add(i.Name, i.Version.ToString(CultureInfo.InvariantCulture), FormatName(i.Format), Size(i.SizeBytes),
                i.Sha256.Length > 12 ? i.Sha256[..12] : i.Sha256, i.Owner, StateName(i.State), Time(i.CreatedAt));
        }

        return table.ToString();
    }

    /// <summary>Every field of one image version.</summary>
    public static string Render(Image i) => $"""
        Image:        {i.Name}:{i.Version}
        State:        {StateName(i.State)}{(i.RetiredAt is null ? string.Empty : " since " + Time(i.RetiredAt))}
        Format:       {FormatName(i.Format)}
        Size:         {(i.SizeBytes == 0 ? "unknown (hosts learn it from the download)" : $"{Units.Bytes(i.SizeBytes)} ({i.SizeBytes.ToString(CultureInfo.InvariantCulture)} bytes)")}
        SHA-256:      {i.Sha256}
        URL:          {i.Url}
        Owner:        {i.Owner}
        Kernel:       {Or(i.Kernel)}
        Initrd:       {Or(i.Initrd)}
        Command line: {Or(i.KernelCmdline)}
        Description:  {Or(i.Description)}
        Saved from:   {(i.SavedFromLease.Length == 0 ? "-" : "lease " + i.SavedFromLease)}
        Created:      {Time(i.CreatedAt)}

        """;

    public static string FormatName(ImageFormat format) => format switch
    {
        ImageFormat.Raw => "raw",
        ImageFormat.Kernel => "kernel",
        ImageFormat.Initrd => "initrd",
        _ => "qcow2",
    };

    public static string StateName(ImageState state) => state switch
    {
        ImageState.Active => "active",
        ImageState.Retired => "retired",
        _ => "unknown",
    };

    private static string Size(ulong bytes) => bytes == 0 ? "-" : Units.Bytes(bytes);

    private static string Or(string text) => text.Length == 0 ? "-" : text;

    private static string Time(Google.Protobuf.WellKnownTypes.Timestamp? at) =>
        at is null ? "-" : at.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
}
