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

    internal static void Deliver(Mbuf m, int hlen)
    {
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
