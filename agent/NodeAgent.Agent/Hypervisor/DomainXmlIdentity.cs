using System.Xml;
using System.Xml.Linq;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// Reads and completes the identity (name, UUID) of domain XML before it is defined. Everything else in the
/// XML is passed to libvirt as written: building domain XML is the serializer's job, not the adapter's.
/// </summary>
internal static class DomainXmlIdentity
{
    /// <summary>The parsed XML, or null when it does not parse: libvirt then refuses it in its own words.</summary>
    public static XDocument? TryParse(string xml)
    {
        try
        {
            return XDocument.Parse(xml, LoadOptions.PreserveWhitespace);
        }
        catch (XmlException)
        {
            return null;
        }
    }

    public static string? Name(XDocument document) =>
        document.Root is { Name.LocalName: "domain" } root && root.Element("name")?.Value.Trim() is { Length: > 0 } name ? name : null;

    public static bool HasUuid(XDocument document) => document.Root?.Element("uuid") is not null;

    /// <summary>The XML with a &lt;uuid&gt; right after &lt;name&gt;, as libvirt writes it; the rest unchanged.</summary>
    public static string WithUuid(XDocument document, Guid uuid)
    {
        var copy = new XDocument(document);
        var root = copy.Root!;
        var element = new XElement("uuid", uuid.ToString("D"));
        if (root.Element("name") is { } name)
        {
            name.AddAfterSelf(element);
        }
        else
        {
            root.AddFirst(element);
        }

        return copy.ToString(SaveOptions.DisableFormatting);
    }
}
