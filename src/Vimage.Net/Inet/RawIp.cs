using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Sockets;

namespace Vimage.Net.Inet;

/// <summary>
/// Raw IP sockets (netinet/raw_ip.c): socket(AF_INET, SOCK_RAW, proto). Input: every datagram of a protocol
/// nobody else registered (rip_input is ip_protox's default) and a copy of each ICMP message icmp_input does not
/// answer itself go to the raw sockets whose protocol, bound address and connected peer match; each gets the whole
/// IP datagram. Output: the data gets an IP header of the socket's protocol, or with IP_HDRINCL is the datagram
/// itself (checked as rip_output does, id and checksum filled in). Tests use it to put hand-made packets into a
/// vnet's stack.
/// </summary>
public static partial class RawIp
{
    /// <summary>rip_sendspace / rip_recvspace.</summary>
    public const int SendSpace = 9216;
    public const int RecvSpace = 9216;

    /// <summary>The raw wildcard entry (protocol 0): socket(AF_INET, SOCK_RAW, any unregistered protocol) gets it.</summary>
    public static readonly RawIpProtosw Wildcard = new(0, Input);

    /// <summary>inetsw's ICMP entry: raw ICMP sockets, with icmp_input as the protocol's input.</summary>
    public static readonly RawIpProtosw IcmpEntry = new(IpProto.Icmp, Icmp.Input);

    [Vnet]
    private static InPcbInfo s_ripcbinfo = new();

    // The vnet's raw PCBs for input: a copy-on-write array, so a packet walks it without locking or allocating.
    [Vnet]
    private static InPcb[] s_ripcbs = [];

    private static readonly object WriteLock = new();

    /// <summary>rip_destroy: raw sockets still open in the dying vnet are closed.</summary>
    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_THIRD)]
    private static void rip_vnet_destroy()
    {
        lock (WriteLock)
        {
            V_ripcbs = [];
        }

        foreach (InPcb pcb in V_ripcbinfo.DetachAll())
        {
            pcb.Socket.Abort("its vnet was destroyed");
        }
    }

    /// <summary>Raw sockets open in the current vnet.</summary>
    public static int SocketCount => V_ripcbinfo.Count;

    /// <summary>
    /// rip_input as ip_protox's default: the datagram (data at its IP header) goes to every matching raw socket;
    /// with none, the protocol is unreachable: ips_noproto, and ips_delivered taken back, as FreeBSD counts it.
    /// </summary>
    internal static void Input(Mbuf m, int hlen)
    {
        if (!DeliverAll(m, m.Data[9], consume: true))
        {
            Ip.Stat(IpStat.ips_delivered, -1);
            Ip.Stat(IpStat.ips_noproto);
            Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachProtocol);
        }
    }

    /// <summary>rip_input for a protocol with its own input (ICMP): copies to the matching raw sockets; <paramref name="m"/> stays the caller's.</summary>
    internal static void DeliverCopies(Mbuf m, byte protocol)
    {
        if (V_ripcbs.Length != 0)
        {
            DeliverAll(m, protocol, consume: false);
        }
    }

    internal static int Attach(Socket so, int protocol)
    {
        if (protocol is < 0 or > 255)
        {
            return Errno.EPROTONOSUPPORT;
        }

        var pcb = new InPcb(so, V_ripcbinfo) { Protocol = protocol };
        if (!V_ripcbinfo.Attach(pcb))
        {
            return Socket.EVnetGone;
        }

        so.Pcb = pcb;
        so.Reserve(SendSpace, RecvSpace);
        lock (WriteLock)
        {
            V_ripcbs = [.. V_ripcbs, pcb];
        }

        return 0;
    }

    internal static void Detach(InPcb pcb)
    {
        pcb.Info.Detach(pcb);
        if (!pcb.Socket.Vnet.TryEnter())
        {
            return; // the vnet's destructor empties the list
        }

        try
        {
            using (Curvnet.Set(pcb.Socket.Vnet))
            {
                lock (WriteLock)
                {
                    V_ripcbs = V_ripcbs.Where(p => p != pcb).ToArray();
                }
            }
        }
        finally
        {
            pcb.Socket.Vnet.Exit();
        }
    }

    /// <summary>
    /// rip_output: <paramref name="data"/> to <paramref name="dst"/>. Without IP_HDRINCL it gets a header of the
    /// socket's protocol; with it, it must be a whole IPv4 datagram whose ip_len is its length (EINVAL otherwise);
    /// a zero ip_id or source is filled in and the header checksum computed.
    /// </summary>
    internal static int Output(InPcb pcb, ReadOnlySpan<byte> data, InAddr dst)
    {
        var options = new IpOutputOptions(Ttl: pcb.Ttl, Tos: pcb.Tos, AllowBroadcast: (pcb.Socket.Options & SoOptions.SO_BROADCAST) != 0) { Fib = pcb.Socket.Fib };
        Mbuf? m = MbufPool.GetFor(data.Length);
        if (m is null)
        {
            return Errno.ENOBUFS;
        }

        data.CopyTo(m.Append(data.Length));
        if (!pcb.HeaderIncluded)
        {
            return IpOutput.Send(m, pcb.Ends.Local, dst, (byte)pcb.Protocol, options);
        }

        if (data.Length < IpHeader.MinLength)
        {
            m.Free();
            return Errno.EINVAL;
        }

        var ip = new IpHeader(m.Data);
        if (ip.Version != 4 || ip.HeaderLength < IpHeader.MinLength || ip.HeaderLength > data.Length || ip.TotalLength != data.Length)
        {
            m.Free();
            return Errno.EINVAL;
        }

        return IpOutput.SendRaw(m, options);
    }

    private static bool DeliverAll(Mbuf m, byte protocol, bool consume)
    {
        ReadOnlySpan<byte> p = m.Data;
        InAddr src = InAddr.Read(p[12..]);
        InAddr dst = InAddr.Read(p[16..]);
        Socket? last = null;
        foreach (InPcb pcb in V_ripcbs)
        {
            PcbEnds e = pcb.Ends;
            if ((pcb.Protocol != 0 && pcb.Protocol != protocol) || (!e.Local.IsAny && e.Local != dst) || (!e.Foreign.IsAny && e.Foreign != src))
            {
                continue;
            }

            if (last is not null && MbufDup.Dup(m) is Mbuf copy)
            {
                Append(last, copy, src);
            }

            last = pcb.Socket;
        }

        if (last is null)
        {
            return false;
        }

        if (consume)
        {
            Append(last, m, src);
        }
        else if (MbufDup.Dup(m) is Mbuf copy)
        {
            Append(last, copy, src);
        }

        return true;
    }

    private static void Append(Socket so, Mbuf m, InAddr src)
    {
        if (so.AppendAddr(m, src.ToSockaddr()) != SbAppendResult.Queued)
        {
            m.Free(); // full: rip_input drops (and counts nothing, as FreeBSD's raw sockets do)
        }
    }
}

/// <summary>The raw IP user requests (rip_usrreqs) for one inetsw entry.</summary>
public sealed class RawIpProtosw(int protocol, IpProtocolInput input)
    : InProtosw(SockType.SOCK_RAW, protocol, PrFlags.PR_ATOMIC | PrFlags.PR_ADDR)
{
    public override IpProtocolInput? Input { get; } = input;

    public override int MaxRecord => IpHeader.MaxPacket;

    public override int Attach(Socket so, int protocol) => RawIp.Attach(so, protocol);

    public override void Detach(Socket so) => RawIp.Detach(PcbOf(so));

    /// <summary>rip_bind: the address must be ours (or the wildcard).</summary>
    public override int Bind(Socket so, in Sockaddr nam)
    {
        if (nam.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        InAddr local = InAddr.From(in nam);
        if (!local.IsAny && !InAddrs.IsLocal(local))
        {
            return Errno.EADDRNOTAVAIL;
        }

        InPcb pcb = PcbOf(so);
        pcb.Ends = pcb.Ends with { Local = local };
        return 0;
    }

    /// <summary>rip_connect: fixes the peer (input is filtered by it, sends go to it).</summary>
    public override int Connect(Socket so, in Sockaddr nam)
    {
        if (nam.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        InPcb pcb = PcbOf(so);
        pcb.Ends = pcb.Ends with { Foreign = InAddr.From(in nam) };
        return 0;
    }

    public override int Disconnect(Socket so)
    {
        InPcb pcb = PcbOf(so);
        pcb.Ends = pcb.Ends with { Foreign = InAddr.Any };
        return 0;
    }

    public override int Send(Socket so, ReadOnlySpan<byte> data, in Sockaddr to)
    {
        InPcb pcb = PcbOf(so);
        InAddr dst;
        if (to.Family == SaFamily.AF_UNSPEC)
        {
            dst = pcb.Ends.Foreign;
        }
        else if (to.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }
        else
        {
            dst = InAddr.From(in to);
        }

        return RawIp.Output(pcb, data, dst);
    }

    public override Sockaddr SockAddr(Socket so) => PcbOf(so).Ends.Local.ToSockaddr();

    public override Sockaddr PeerAddr(Socket so) => PcbOf(so).Ends.Foreign.ToSockaddr();

    /// <summary>rip_ctloutput: IP_HDRINCL, then ip_ctloutput's IP_TTL and IP_TOS.</summary>
    public override int CtlOutput(Socket so, int level, int name, bool set, ref int value)
    {
        if (level != InOptions.IPPROTO_IP)
        {
            return Errno.ENOPROTOOPT;
        }

        InPcb pcb = PcbOf(so);
        if (name != InOptions.IP_HDRINCL)
        {
            return IpCtlOutput(pcb, name, set, ref value);
        }

        if (set)
        {
            pcb.HeaderIncluded = value != 0;
        }

        value = pcb.HeaderIncluded ? 1 : 0;
        return 0;
    }
}
