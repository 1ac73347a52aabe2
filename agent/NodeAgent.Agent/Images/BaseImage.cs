namespace NodeAgent.Agent.Images;

/// <summary>
/// The local files a workspace boots from, in the image cache: its base disk (of <paramref name="Format"/>) and,
/// for a disk booted with an outside kernel, the kernel, the initrd and the kernel command line.
/// </summary>
public sealed record BaseImage(string Name, string DiskPath, string? KernelPath, string? InitrdPath, string? KernelCommandLine, ImageFormat Format = ImageFormat.Qcow2);
