using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Udp;

/// <summary>
/// udp_usrreqs (netinet/udp_usrreq.c): UDP's user requests on the shared socket and inpcb layers. Bind and
/// connect follow in_pcbbind / in_pcbconnect (a connect binds an ephemeral port and picks the source address
/// first); a send on an unbound socket binds it; a datagram larger than net.inet.udp.maxdgram (SO_SNDBUF) is
/// EMSGSIZE.
/// </summary>
public sealed class UdpProtosw() : InProtosw(SockType.SOCK_DGRAM, IpProto.Udp, PrFlags.PR_ATOMIC | PrFlags.PR_ADDR)
{
    public override IpProtocolInput? Input => Udp.InputHandler;

    public override IcmpHandler? CtlInput => Udp.CtlInputHandler;

    /// <summary>IP_MAXPACKET less the IP and UDP headers.</summary>
    public override int MaxRecord => IpHeader.MaxPacket - IpHeader.MinLength - Udp.HeaderLength;

    /// <summary>udp_attach: an inpcb in V_udbinfo, buffers from net.inet.udp.maxdgram / recvspace.</summary>
    public override int Attach(Socket so, int protocol)
    {
        var pcb = new InPcb(so, Udp.Table);
        if (!pcb.Info.Attach(pcb))
        {
            return Socket.EVnetGone;
        }

        so.Pcb = pcb;
        so.Reserve(Udp.MaxDgram, Udp.RecvSpace);
        return 0;
    }

    public override void Detach(Socket so)
    {
        InPcb pcb = PcbOf(so);
        pcb.Info.Detach(pcb);
    }

    /// <summary>udp_bind: a unicast address must be ours; port 0 picks an ephemeral port.</summary>
    public override int Bind(Socket so, in Sockaddr nam)
    {
        if (nam.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        InAddr address = InAddr.From(in nam);
        if (!address.IsAny && !address.IsMulticast && !InAddrs.IsLocal(address))
        {
            return Errno.EADDRNOTAVAIL;
        }

        InPcb pcb = PcbOf(so);
        return pcb.Info.Bind(pcb, address, nam.Port);
    }

    /// <summary>udp_connect: fixes the peer (sends go there, only its datagrams are received); binds if needed.</summary>
    public override int Connect(Socket so, in Sockaddr nam)
    {
        if (nam.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        if (nam.Port == 0)
        {
            return Errno.EADDRNOTAVAIL;
        }

        InPcb pcb = PcbOf(so);
        InAddr dst = Udp.RewriteDestination(InAddr.From(in nam), so.Fib);
        return pcb.Info.PcbConnect(pcb, dst, nam.Port);
    }

    /// <summary>udp_disconnect.</summary>
    public override int Disconnect(Socket so)
    {
        InPcb pcb = PcbOf(so);
        pcb.Info.Disconnect(pcb);
        return 0;
    }

    /// <summary>udp_send: an explicit destination needs a port; an unbound socket is bound first.</summary>
    public override int Send(Socket so, ReadOnlySpan<byte> data, in Sockaddr to)
    {
        bool explicitDestination = to.Family != SaFamily.AF_UNSPEC;
        if (explicitDestination && to.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        if (explicitDestination && to.Port == 0)
        {
            return Errno.EADDRNOTAVAIL;
        }

        InPcb pcb = PcbOf(so);
        PcbEnds ends;
        lock (so.SyncRoot)
        {
            ends = pcb.Ends;
            if (!ends.IsBound)
            {
                int error = pcb.Info.Bind(pcb, InAddr.Any, 0);
                if (error != 0)
                {
                    return error;
                }

                ends = pcb.Ends;
            }
        }

        InAddr dst = explicitDestination ? Udp.RewriteDestination(InAddr.From(in to), so.Fib) : ends.Foreign;
        ushort dport = explicitDestination ? to.Port : ends.ForeignPort;
        var options = new IpOutputOptions(Ttl: pcb.Ttl, Tos: pcb.Tos, AllowBroadcast: (so.Options & SoOptions.SO_BROADCAST) != 0) { Fib = so.Fib };
        return Udp.Output(data, ends.Local, ends.LocalPort, dst, dport, options);
    }

    /// <summary>ip_ctloutput: IP_TTL and IP_TOS.</summary>
    public override int CtlOutput(Socket so, int level, int name, bool set, ref int value)
        => level == InOptions.IPPROTO_IP ? IpCtlOutput(PcbOf(so), name, set, ref value) : Errno.ENOPROTOOPT;
}
