namespace Vimage.Net.Netisr;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>NETISR_* protocol numbers (net/netisr.h), FreeBSD's values.</summary>
public static class NetisrProto
{
    public const int NETISR_IP = 1;
    public const int NETISR_ARP = 4;
    public const int NETISR_IPV6 = 6;

    /// <summary>NETISR_MAXPROT.</summary>
    public const int NETISR_MAXPROT = 16;
}

/// <summary>A netisr protocol's input routine (nh_handler): owns <paramref name="m"/>, whose data starts at the network header.</summary>
public delegate void NetisrHandler(Ifnet ifp, Mbuf m);

/// <summary>
/// netisr(9)'s registration table: link layers hand a received packet to the network protocol registered under
/// its number (netisr_register / netisr_dispatch). Dispatch is direct (FreeBSD's default net.isr.dispatch) and
/// costs one array read; a packet for a protocol nobody registered is counted on the interface (ifi_noproto).
/// </summary>
public static class NetisrTable
{
    private static readonly NetisrHandler?[] Handlers = new NetisrHandler?[NetisrProto.NETISR_MAXPROT];
    private static readonly string?[] Names = new string?[NetisrProto.NETISR_MAXPROT];

    /// <summary>netisr_register: one handler per protocol number (re-registering the same name replaces it).</summary>
    public static void Register(int proto, string name, NetisrHandler handler)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(proto);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(proto, NetisrProto.NETISR_MAXPROT);
        ArgumentNullException.ThrowIfNull(handler);
        lock (Handlers)
        {
            if (Names[proto] is { } existing && existing != name)
            {
                throw new InvalidOperationException($"netisr_register: protocol {proto} is already {existing}");
            }

            Names[proto] = name;
            Volatile.Write(ref Handlers[proto], handler);
        }
    }

    /// <summary>The registered protocol's name (net.isr's nh_name), or null.</summary>
    public static string? NameOf(int proto) => (uint)proto < NetisrProto.NETISR_MAXPROT ? Volatile.Read(ref Names[proto]) : null;

    /// <summary>netisr_dispatch: runs the protocol's input now, on this thread, in the current vnet.</summary>
    public static void Dispatch(int proto, Ifnet ifp, Mbuf m)
    {
        NetisrHandler? handler = (uint)proto < NetisrProto.NETISR_MAXPROT ? Volatile.Read(ref Handlers[proto]) : null;
        if (handler is null)
        {
            ifp.Count(IfCounter.IFCOUNTER_NOPROTO);
            m.Free();
            return;
        }

        handler(ifp, m);
    }
}
