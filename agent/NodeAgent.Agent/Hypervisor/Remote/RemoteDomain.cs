namespace NodeAgent.Agent.Hypervisor.Remote;

/// <summary>A domain as the remote protocol names it (remote_nonnull_domain): name, raw UUID and id (-1 when not running).</summary>
internal sealed record RemoteDomain(string Name, byte[] Uuid, int Id)
{
    private const int UuidLength = 16; // VIR_UUID_BUFLEN

    public Guid Guid => new(Uuid, bigEndian: true);

    public static RemoteDomain Read(ref XdrReader reader) => new(reader.String(), reader.FixedOpaque(UuidLength).ToArray(), reader.Int());

    public static RemoteDomain ReadReply(byte[] body)
    {
        var reader = new XdrReader(body);
        return Read(ref reader);
    }

    public XdrWriter Write(XdrWriter writer) => writer.String(Name).FixedOpaque(Uuid).Int(Id);

    /// <summary>The arguments of a call on this domain alone.</summary>
    public XdrWriter Args() => Write(new XdrWriter());
}
