using Vimage.Core;

namespace Vimage.Net.Inet;

/// <summary>
/// Who hears ICMP messages that are not answered by the stack itself: ping sockets (echo replies, and errors
/// quoting their requests) and transports (errors quoting their datagrams: pr_ctlinput). A handler returns true
/// when it took ownership of the mbuf.
/// </summary>
public delegate bool IcmpHandler(Mbuf m, int hlen);

public static partial class IcmpListeners
{
    [Vnet]
    private static IcmpHandler[] s_icmp_listeners = [];

    private static readonly object WriteLock = new();

    public static void Add(IcmpHandler handler)
    {
        lock (WriteLock)
        {
            V_icmp_listeners = [.. V_icmp_listeners, handler];
        }
    }

    public static void Remove(IcmpHandler handler)
    {
        lock (WriteLock)
        {
            V_icmp_listeners = V_icmp_listeners.Where(h => h != handler).ToArray();
        }
    }

    /// <summary>
    /// icmp_input's tail: an error goes to the ctlinput of the protocol it quotes (ip_ctlprotox), raw ICMP sockets
    /// get a copy (rip_input), then the listeners in turn until one takes it; nobody: freed.
    /// </summary>
    internal static void Deliver(Mbuf m, int hlen)
    {
        ReadOnlySpan<byte> icmp = m.Data[hlen..];
        if (icmp.Length >= Icmp.HeaderLength + IpHeader.MinLength
            && icmp[0] is IcmpType.Unreach or IcmpType.TimeExceeded or IcmpType.ParameterProblem or IcmpType.Redirect
            && IpProtocols.CtlInputFor(icmp[Icmp.HeaderLength + 9]) is { } ctlinput && ctlinput(m, hlen))
        {
            return;
        }

        RawIp.DeliverCopies(m, IpProto.Icmp);
        foreach (IcmpHandler handler in V_icmp_listeners)
        {
            if (handler(m, hlen))
            {
                return;
            }
        }

        m.Free();
    }
}
