namespace Vimage.Net.Inet;

/// <summary>
/// inetsw / ip_protox: where ip_input hands a datagram addressed to us. The handler gets the mbuf with its data
/// starting at the IP header (of <paramref name="headerLength"/> bytes, options included) and owns it.
/// </summary>
public delegate void IpProtocolInput(Mbuf m, int headerLength);

public static class IpProtocols
{
    private static readonly IpProtocolInput?[] Handlers = new IpProtocolInput?[256];

    public static void Register(byte protocol, IpProtocolInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Volatile.Write(ref Handlers[protocol], input);
    }

    internal static IpProtocolInput? For(byte protocol) => Volatile.Read(ref Handlers[protocol]);
}
