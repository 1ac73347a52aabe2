using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// Where a workspace is in its life, as persisted in its domain. Every phase but the steady ones (running,
/// stopped, paused) is a step in progress: after a crash the agent finds it here and finishes it.
/// </summary>
public enum WorkspacePhase
{
    /// <summary>Defined; being started (for the first time, or again after a stop).</summary>
    Starting,
    Running,
    /// <summary>Asked to shut down at <see cref="WorkspaceMetadata.Since"/>; powered off when the stop timeout has passed.</summary>
    Stopping,
    Stopped,
    Paused,
    /// <summary>The stop half of a reboot.</summary>
    RebootStopping,
    /// <summary>The start half of a reboot.</summary>
    RebootStarting,
    /// <summary>No longer wanted: being powered off, undefined and its files removed. Never undone.</summary>
    Removing,
}

/// <summary>
/// What NodeAgent keeps inside each of its domains (an element of libvirt's &lt;metadata&gt;), so the domain
/// alone says whose it is and which step of its life it is in. <see cref="Reboots"/> counts the reboot
/// requests carried out; <see cref="RebootTarget"/> is the count a reboot in progress will reach.
/// <see cref="Host"/> is the id of the host whose agent made the domain: another agent on the same libvirt
/// (a second agent by mistake, a test) leaves it alone. <see cref="Save"/> is how the latest save of the root
/// disk went, kept until a newer one is asked for, so an agent restarted after a save still reports it.
/// </summary>
public sealed record WorkspaceMetadata(
    string WorkspaceId,
    string Owner,
    string Image,
    DateTimeOffset ExpiresAt,
    WorkspacePhase Phase = WorkspacePhase.Starting,
    DateTimeOffset Since = default,
    ulong Reboots = 0,
    ulong RebootTarget = 0,
    string Host = "",
    SaveOutcome? Save = null)
{
    public const string Namespace = "https://nodeagent.dev/xmlns/workspace/1";

    public const string Prefix = "nodeagent";

    /// <summary>The element on its own, without namespace: the form libvirt's metadata call takes (it adds the namespace).</summary>
    public string ToElement()
    {
        var output = new StringBuilder();
        using (var xml = XmlWriter.Create(output, new XmlWriterSettings { OmitXmlDeclaration = true }))
        {
            Write(xml, null);
        }

        return output.ToString();
    }

    /// <summary>Writes the element in NodeAgent's namespace (or none); every value is escaped by the writer.</summary>
    public void Write(XmlWriter xml, string? ns)
    {
        xml.WriteStartElement(ns is null ? null : Prefix, "workspace", ns);
        xml.WriteElementString("id", ns, WorkspaceId);
        xml.WriteElementString("owner", ns, Owner);
        xml.WriteElementString("image", ns, Image);
        xml.WriteElementString("expires", ns, ExpiresAt.ToString("O", CultureInfo.InvariantCulture));
        xml.WriteElementString("phase", ns, Phase.ToString());
        xml.WriteElementString("since", ns, Since.ToString("O", CultureInfo.InvariantCulture));
        xml.WriteElementString("reboots", ns, Reboots.ToString(CultureInfo.InvariantCulture));
        xml.WriteElementString("reboot-target", ns, RebootTarget.ToString(CultureInfo.InvariantCulture));
        xml.WriteElementString("host", ns, Host);
        if (Save is { } save)
        {
            xml.WriteStartElement(ns is null ? null : Prefix, "save", ns);
            xml.WriteAttributeString("generation", save.Generation.ToString(CultureInfo.InvariantCulture));
            xml.WriteAttributeString("sha256", save.Sha256);
            xml.WriteAttributeString("size", save.SizeBytes.ToString(CultureInfo.InvariantCulture));
            xml.WriteAttributeString("error", save.Error);
            xml.WriteEndElement();
        }

        xml.WriteEndElement();
    }

    /// <summary>
    /// Reads the element, with or without its namespace; null when there is none or it is not NodeAgent's.
    /// An element from before phases were recorded reads as <see cref="WorkspacePhase.Running"/>.
    /// </summary>
    public static WorkspaceMetadata? Parse(string? element)
    {
        if (string.IsNullOrWhiteSpace(element))
        {
            return null;
        }

        XElement root;
        try
        {
            root = XElement.Parse(element);
        }
        catch (XmlException)
        {
            return null;
        }

        return From(root);
    }

    /// <summary>NodeAgent's element inside a whole domain XML document, or null for a domain NodeAgent did not create.</summary>
    public static WorkspaceMetadata? FromDomainXml(string domainXml)
    {
        XNamespace ns = Namespace;
        var element = XDocument.Parse(domainXml).Root?.Element("metadata")?.Element(ns + "workspace");
        return element is null ? null : From(element);
    }

    private static WorkspaceMetadata? From(XElement root)
    {
        if (root.Name.LocalName != "workspace")
        {
            return null;
        }

        string Value(string name) => root.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value ?? string.Empty;
        static DateTimeOffset Time(string text) =>
            DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var t) ? t : DateTimeOffset.MinValue;
        static ulong Count(string text) => ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

        var phase = Enum.TryParse<WorkspacePhase>(Value("phase"), ignoreCase: false, out var p) && Enum.IsDefined(p) ? p : WorkspacePhase.Running;
        var saved = root.Elements().FirstOrDefault(e => e.Name.LocalName == "save");
        var save = saved is null ? null : new SaveOutcome(
            Count(saved.Attribute("generation")?.Value ?? string.Empty),
            saved.Attribute("sha256")?.Value ?? string.Empty,
            (long)Math.Min(Count(saved.Attribute("size")?.Value ?? string.Empty), long.MaxValue),
            saved.Attribute("error")?.Value ?? string.Empty);
        return new WorkspaceMetadata(Value("id"), Value("owner"), Value("image"), Time(Value("expires")), phase, Time(Value("since")),
            Count(Value("reboots")), Count(Value("reboot-target")), Value("host"), save);
    }
}

/// <summary>How save <see cref="Generation"/> of a workspace's root disk went: its digest and size, or why it failed.</summary>
public sealed record SaveOutcome(ulong Generation, string Sha256, long SizeBytes, string Error)
{
    public bool Succeeded => Error.Length == 0;
}
