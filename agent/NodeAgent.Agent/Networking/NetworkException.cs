namespace NodeAgent.Agent.Networking;

/// <summary>
/// A bridge, VLAN interface or anti-spoofing rule set the agent could not put in place, or network input it
/// refused. The message names the interface, network or workspace and what to do about it.
/// </summary>
public sealed class NetworkException : Exception
{
    public NetworkException(string message)
        : base(message)
    {
    }

    public NetworkException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public NetworkException()
        : base("network setup failed")
    {
    }
}
