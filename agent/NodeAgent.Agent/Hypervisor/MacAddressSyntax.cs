namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// The one spelling of a NIC's MAC address the agent accepts: six lower-case hex pairs joined by ':', unicast,
/// not all zero — as the contract sends it, as libvirt writes it back and as cloud-init matches it (cloud-init
/// compares MACs in lower case).
/// </summary>
public static class MacAddressSyntax
{
    public static bool IsValid(string? text, out string problem)
    {
        problem = $"MAC '{Contract.IdSyntax.Printable(text ?? string.Empty)}' is not six lower-case hex pairs joined by ':', such as 52:54:00:12:34:56";
        if (text is not { Length: 17 })
        {
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var ok = i % 3 == 2 ? c == ':' : c is (>= '0' and <= '9') or (>= 'a' and <= 'f');
            if (!ok)
            {
                return false;
            }
        }

        if ((Convert.ToByte(text[..2], 16) & 1) != 0)
        {
            problem = $"MAC {text} is a multicast address; a NIC needs a unicast one (even first octet)";
            return false;
        }

        if (text == "00:00:00:00:00:00")
        {
            problem = "MAC 00:00:00:00:00:00 is not an address";
            return false;
        }

        problem = string.Empty;
        return true;
    }
}
