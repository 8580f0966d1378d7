using System.Threading.Channels;
using Vimage.Core;

namespace Vimage.Net.Route;

#pragma warning disable CA1707 // FreeBSD's message names.

/// <summary>Routing message types (net/route.h RTM_*), same values.</summary>
public enum RtmType : byte
{
    RTM_ADD = 1,
    RTM_DELETE = 2,
    RTM_CHANGE = 3,
    RTM_GET = 4,
    RTM_REDIRECT = 6,
    RTM_NEWADDR = 0xc,
    RTM_DELADDR = 0xd,
    RTM_IFINFO = 0xe,
    RTM_IFANNOUNCE = 0x11,
}

/// <summary>if_announcemsghdr's ifan_what (net/if.h).</summary>
public enum IfanWhat : ushort
{
    IFAN_ARRIVAL = 0,
    IFAN_DEPARTURE = 1,
}

/// <summary>
/// One routing message as a listener receives it: rt_msghdr with the route it is about (RTM_ADD ... RTM_REDIRECT),
/// ifa_msghdr (RTM_NEWADDR/RTM_DELADDR), if_msghdr (RTM_IFINFO) or if_announcemsghdr (RTM_IFANNOUNCE).
/// </summary>
public readonly record struct RtMessage(RtmType Type, Nhop? Route, long Sequence)
{
    /// <summary>The interface an address, status or announce message is about.</summary>
    public Ifnet? Interface { get; init; }

    /// <summary>RTM_NEWADDR/RTM_DELADDR: the address (RTAX_IFA); RTM_REDIRECT: its author (RTAX_AUTHOR).</summary>
    public Sockaddr Address { get; init; }

    /// <summary>RTM_NEWADDR/RTM_DELADDR: the netmask's length (RTAX_NETMASK).</summary>
    public int PrefixLength { get; init; }

    /// <summary>RTM_NEWADDR/RTM_DELADDR: the broadcast address (RTAX_BRD), unspecified when there is none.</summary>
    public Sockaddr Broadcast { get; init; }

    /// <summary>RTM_IFINFO: if_flags when sent.</summary>
    public IfFlags IfFlags { get; init; }

    /// <summary>RTM_IFANNOUNCE: arrival or departure.</summary>
    public IfanWhat What { get; init; }
}

/// <summary>
/// The routing socket's broadcast side (rtsock.c rt_routemsg / raw_input): every change to a vnet's tables is
/// handed to that vnet's listeners (route monitor). With no listener a change costs one volatile read. Each listener
/// has a bounded queue; when it is full the message is dropped and counted (rtsock's sbappend failing with
/// ENOBUFS), so a slow reader never holds memory without bound or blocks a table change.
/// </summary>
public static partial class RtSock
{
    /// <summary>Messages queued per listener before new ones are dropped.</summary>
    public const int ListenerCapacity = 1024;

    [Vnet]
    private static RtListener[] s_rts_listeners = [];

    [Vnet]
    private static long s_rts_seq;

    private static readonly object ListenLock = new();

    /// <summary>Opens a listener in the current vnet (socket(PF_ROUTE, SOCK_RAW, 0)). Dispose it to close.</summary>
    public static RtListener Listen()
    {
        var listener = new RtListener(Curvnet.Current ?? Vnet.Vnet0);
        lock (ListenLock)
        {
            V_rts_listeners = [.. V_rts_listeners, listener];
        }

        return listener;
    }

    internal static void Close(RtListener listener)
    {
        try
        {
            using (Curvnet.Set(listener.Vnet))
            {
                lock (ListenLock)
                {
                    V_rts_listeners = Array.FindAll(V_rts_listeners, l => l != listener);
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The vnet is gone (its jail was removed): its listener list went with it.
        }
    }

    /// <summary>rt_routemsg: tells the current vnet's listeners that <paramref name="route"/> was added, deleted or changed.</summary>
    public static void RouteMessage(RtmType type, Nhop route) => Send(new RtMessage(type, route, 0));

    /// <summary>
    /// rt_missmsg_fib(RTM_REDIRECT): a redirect from <paramref name="author"/> was applied; <paramref name="route"/>
    /// carries the destination and the new gateway.
    /// </summary>
    public static void RedirectMessage(Nhop route, Sockaddr author) => Send(new RtMessage(RtmType.RTM_REDIRECT, route, 0) { Address = author });

    /// <summary>rt_addrmsg: <paramref name="address"/> (with its prefix length and broadcast) was added to or removed from <paramref name="ifp"/>.</summary>
    public static void AddrMessage(RtmType type, Ifnet ifp, Sockaddr address, int prefixLength, Sockaddr broadcast)
        => Send(new RtMessage(type, null, 0) { Interface = ifp, Address = address, PrefixLength = prefixLength, Broadcast = broadcast });

    /// <summary>rt_ifmsg: <paramref name="ifp"/>'s flags or link changed (if_up, if_down), to its vnet's listeners.</summary>
    public static void IfMessage(Ifnet ifp) => SendIn(ifp, new RtMessage(RtmType.RTM_IFINFO, null, 0) { Interface = ifp, IfFlags = ifp.Flags });

    /// <summary>rt_ifannouncemsg: <paramref name="ifp"/> arrived in or is leaving its vnet.</summary>
    public static void IfAnnounce(Ifnet ifp, IfanWhat what) => SendIn(ifp, new RtMessage(RtmType.RTM_IFANNOUNCE, null, 0) { Interface = ifp, What = what });

    private static void SendIn(Ifnet ifp, RtMessage message)
    {
        if (Curvnet.Current == ifp.Vnet)
        {
            Send(message);
            return;
        }

        using (Curvnet.Set(ifp.Vnet))
        {
            Send(message);
        }
    }

    private static void Send(RtMessage message)
    {
        RtListener[] listeners = Volatile.Read(ref V_rts_listeners);
        if (listeners.Length == 0)
        {
            return;
        }

        long seq = Interlocked.Increment(ref V_rts_seq);
        foreach (RtListener listener in listeners)
        {
            listener.Deliver(message with { Sequence = seq });
        }
    }
}

/// <summary>One routing-socket reader: a bounded queue of <see cref="RtMessage"/>s from its vnet.</summary>
public sealed class RtListener : IDisposable
{
    private readonly Channel<RtMessage> _queue = Channel.CreateBounded<RtMessage>(
        new BoundedChannelOptions(RtSock.ListenerCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private long _dropped;
    private int _disposed;

    internal RtListener(Vnet vnet) => Vnet = vnet;

    public Vnet Vnet { get; }

    /// <summary>Messages lost because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ChannelReader<RtMessage> Reader => _queue.Reader;

    internal void Deliver(RtMessage message)
    {
        if (_queue.Reader.Count >= RtSock.ListenerCapacity || !_queue.Writer.TryWrite(message))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _queue.Writer.TryComplete();
            RtSock.Close(this);
        }
    }
}
