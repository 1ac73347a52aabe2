using NodeAgent.Contract;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// A Linux network interface name (bridge, uplink, VLAN interface, tap): 1–15 of <c>A–Z a–z 0–9 _ . -</c>,
/// not "." or "..", and not starting with '-' (ip would read it as an option). Every character is also
/// valid inside an nftables identifier, so the rule serializer can derive chain and counter names from it.
/// </summary>
public readonly record struct InterfaceName
{
    /// <summary>IFNAMSIZ less the terminating NUL.</summary>
    public const int MaxLength = 15;

    private InterfaceName(string value) => Value = value;

    public string Value { get; }

    /// <summary>False for <c>default(InterfaceName)</c>, which no parse produces.</summary>
    public bool IsValid => Value is not null;

    public static bool TryParse(string? text, out InterfaceName name, out string problem)
    {
        name = default;
        if (string.IsNullOrEmpty(text))
        {
            problem = "is empty";
            return false;
        }

        if (text.Length > MaxLength)
        {
            problem = $"'{IdSyntax.Printable(text)}' is {text.Length} characters long; Linux allows at most {MaxLength}";
            return false;
        }

        if (text is "." or "..")
        {
            problem = $"'{text}' is not a usable interface name";
            return false;
        }

        if (text[0] == '-')
        {
            problem = $"'{IdSyntax.Printable(text)}' starts with '-', which ip would read as an option";
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                problem = $"'{IdSyntax.Printable(text)}' has '{IdSyntax.Printable(c.ToString())}' at position {i}; use letters, digits, '_', '.' and '-'";
                return false;
            }
        }

        name = new InterfaceName(text);
        problem = string.Empty;
        return true;
    }

    public static InterfaceName Parse(string text) =>
        TryParse(text, out var name, out var problem) ? name : throw new FormatException($"interface name {problem}");

    public override string ToString() => Value ?? string.Empty;
}

/// <summary>
/// A network's name as the scheduler and the agents know it: a lower-case letter, then up to 14 lower-case
/// letters, digits or '-'. Short enough to appear in interface names, metric labels and log fields.
/// </summary>
public readonly record struct NetworkName
{
    public const int MaxLength = 15;

    private NetworkName(string value) => Value = value;

    public string Value { get; }

    public bool IsValid => Value is not null;

    public static bool TryParse(string? text, out NetworkName name, out string problem)
    {
        name = default;
        if (string.IsNullOrEmpty(text))
        {
            problem = "is empty";
            return false;
        }

        if (text.Length > MaxLength)
        {
            problem = $"'{IdSyntax.Printable(text)}' is {text.Length} characters long; at most {MaxLength} are allowed";
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var ok = char.IsAsciiLetterLower(c) || (i > 0 && (char.IsAsciiDigit(c) || c == '-'));
            if (!ok)
            {
                problem = $"'{IdSyntax.Printable(text)}' has '{IdSyntax.Printable(c.ToString())}' at position {i}; use a lower-case letter, then lower-case letters, digits and '-'";
                return false;
            }
        }

        name = new NetworkName(text);
        problem = string.Empty;
        return true;
    }

    public static NetworkName Parse(string text) =>
        TryParse(text, out var name, out var problem) ? name : throw new FormatException($"network name {problem}");

    public override string ToString() => Value ?? string.Empty;
}
