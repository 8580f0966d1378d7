namespace Vimage.Net.Inet;

/// <summary>
/// inetsw / ip_protox: where ip_input hands a datagram addressed to us. The handler gets the mbuf with its data
/// starting at the IP header (of <paramref name="headerLength"/> bytes, options included) and owns it.
/// </summary>
public delegate void IpProtocolInput(Mbuf m, int headerLength);

/// <summary>
/// ip_protox and ip_ctlprotox (ipproto_register): per protocol number, the input routine and the ICMP error
/// routine. A protocol number nobody registered goes to the default input (rip_input, once the raw domain entry is
/// registered), as FreeBSD fills ip_protox with the raw protocol's index.
/// </summary>
public static class IpProtocols
{
    private static readonly IpProtocolInput?[] Handlers = new IpProtocolInput?[256];
    private static readonly IcmpHandler?[] CtlHandlers = new IcmpHandler?[256];
    private static IpProtocolInput? s_default;

    public static void Register(byte protocol, IpProtocolInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Volatile.Write(ref Handlers[protocol], input);
    }

    /// <summary>ipproto_register's ctlinput: ICMP errors quoting a datagram of <paramref name="protocol"/> go here first.</summary>
    public static void RegisterCtlInput(byte protocol, IcmpHandler ctlinput)
    {
        ArgumentNullException.ThrowIfNull(ctlinput);
        Volatile.Write(ref CtlHandlers[protocol], ctlinput);
    }

    /// <summary>The input for protocol numbers without their own (rip_input).</summary>
    public static void RegisterDefault(IpProtocolInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Volatile.Write(ref s_default, input);
    }

    /// <summary>ipproto_unregister.</summary>
    public static void Unregister(byte protocol)
    {
        Volatile.Write(ref Handlers[protocol], null);
        Volatile.Write(ref CtlHandlers[protocol], null);
    }

    internal static IpProtocolInput? For(byte protocol) => Volatile.Read(ref Handlers[protocol]) ?? Volatile.Read(ref s_default);

    internal static IcmpHandler? CtlInputFor(byte protocol) => Volatile.Read(ref CtlHandlers[protocol]);
}
