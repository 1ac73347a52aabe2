using System.Globalization;
using System.Net;

namespace NodeAgent.Metrics;

/// <summary>Parses a --metrics-listen value: HOST:PORT or http://HOST:PORT with an IP address for HOST, or "none".</summary>
public static class MetricsListenAddress
{
    /// <summary>The value that turns the endpoint off.</summary>
    public const string None = "none";

    /// <summary>The address to listen on, or null for <see cref="None"/>.</summary>
    /// <exception cref="FormatException">The value is neither; the message shows the accepted forms.</exception>
    public static IPEndPoint? Parse(string value, string option = "--metrics-listen")
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Equals(None, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var text = value.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? value["http://".Length..].TrimEnd('/') : value;
        if (IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port > 0 && text.LastIndexOf(':') > text.LastIndexOf(']'))
        {
            return endPoint;
        }

        throw new FormatException(string.Format(CultureInfo.InvariantCulture,
            "{0}: '{1}' is not an address to listen on; use IP:PORT (e.g. 127.0.0.1:9177, 0.0.0.0:9177, [::]:9177) or none", option, value));
    }
}
