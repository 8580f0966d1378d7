using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's option names (netinet/tcp.h).

/// <summary>IPPROTO_TCP socket options (netinet/tcp.h), FreeBSD's values.</summary>
public static class TcpOptionNames
{
    /// <summary>IPPROTO_TCP: the level.</summary>
    public const int IPPROTO_TCP = 6;

    public const int TCP_NODELAY = 1;
    public const int TCP_MAXSEG = 2;
    public const int TCP_NOPUSH = 4;
    public const int TCP_KEEPINIT = 128;
    public const int TCP_KEEPIDLE = 256;
    public const int TCP_KEEPINTVL = 512;
    public const int TCP_KEEPCNT = 1024;
}

#pragma warning restore CA1707

/// <summary>
/// inetsw's TCP entry with tcp_usrreqs (netinet/tcp_usrreq.c): attach makes an inpcb in V_tcbinfo and its tcpcb
/// with net.inet.tcp.sendspace/recvspace buffers; bind, listen (solisten_proto), connect (source selection, an
/// ephemeral port, the 4-tuple, RFC 6528 ISS, SYN), send (sbappendstream + tcp_output), rcvd (window updates),
/// shutdown (tcp_usrclosed), close (tcp_disconnect: FIN, or RST with SO_LINGER 0), abort and detach. Each takes the
/// connection's lock and flushes the segments it queued after letting go of it.
/// </summary>
public sealed class TcpProtosw() : InProtosw(SockType.SOCK_STREAM, IpProto.Tcp, PrFlags.PR_CONNREQUIRED)
{
    public override IpProtocolInput? Input => Tcp.InputHandler;

    public override IcmpHandler? CtlInput => Tcp.CtlInputHandler;

    /// <summary>tcp_usr_attach.</summary>
    public override int Attach(Socket so, int protocol)
    {
        var inp = new InPcb(so, Tcp.TcbInfo);
        if (!inp.Info.Attach(inp))
        {
            return Socket.EVnetGone;
        }

        so.Pcb = inp;
        Tcp.NewTcpcb(inp);
        so.Reserve(Tcp.SendSpace, Tcp.RecvSpace);
        return 0;
    }

    /// <summary>tcp_usr_detach: a connection that still has work (FIN states, TIME_WAIT) lives on without its socket.</summary>
    public override void Detach(Socket so)
    {
        InPcb inp = PcbOf(so);
        Tcpcb tp = Tcp.TpOf(inp);
        lock (tp.Lock)
        {
            if (tp.t_state == TcpState.TCPS_CLOSED || (tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
            {
                Tcp.TimersStop(tp);
                tp.t_segq.Flush();
                tp.t_flags |= TcpCbFlags.TF_CLOSED;
                inp.Info.Detach(inp);
            }
            else if (tp.t_state == TcpState.TCPS_LISTEN)
            {
                Tcp.TcpClose(tp);
            }
        }

        Tcp.FlushOutput();
    }

    /// <summary>tcp_usr_bind: a unicast address of ours (or the wildcard); port 0 picks an ephemeral port.</summary>
    public override int Bind(Socket so, in Sockaddr nam)
    {
        if (nam.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        InAddr address = InAddr.From(in nam);
        if (address.IsMulticast || address.IsBroadcast)
        {
            return Errno.EAFNOSUPPORT;
        }

        if (!address.IsAny && !InAddrs.IsLocal(address))
        {
            return Errno.EADDRNOTAVAIL;
        }

        InPcb inp = PcbOf(so);
        return inp.Info.Bind(inp, address, nam.Port);
    }

    /// <summary>tcp_usr_listen: bound (an ephemeral port if not), LISTEN, solisten_proto.</summary>
    public override int Listen(Socket so, int backlog)
    {
        InPcb inp = PcbOf(so);
        Tcpcb tp = Tcp.TpOf(inp);
        lock (tp.Lock)
        {
            if (tp.t_state != TcpState.TCPS_CLOSED && tp.t_state != TcpState.TCPS_LISTEN)
            {
                return Errno.EINVAL;
            }

            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
            {
                return Errno.EINVAL;
            }

            if (!inp.Ends.IsBound)
            {
                int error = inp.Info.Bind(inp, InAddr.Any, 0);
                if (error != 0)
                {
                    return error;
                }
            }

            tp.t_state = TcpState.TCPS_LISTEN;
            so.SoListenProto(backlog);
        }

        return 0;
    }

    /// <summary>tcp_usr_connect + tcp_connect: the 4-tuple (EADDRINUSE if taken), ISS, SYN_SENT, keepinit, the SYN.</summary>
    public override int Connect(Socket so, in Sockaddr nam)
    {
        if (nam.Family != SaFamily.AF_INET)
        {
            return Errno.EAFNOSUPPORT;
        }

        InAddr dst = InAddr.From(in nam);
        if (dst.IsMulticast || dst.IsBroadcast || InAddrs.IsBroadcast(dst))
        {
            return Errno.EAFNOSUPPORT;
        }

        if (nam.Port == 0)
        {
            return Errno.EADDRNOTAVAIL;
        }

        InPcb inp = PcbOf(so);
        Tcpcb tp = Tcp.TpOf(inp);
        int error;
        lock (tp.Lock)
        {
            if (tp.t_state != TcpState.TCPS_CLOSED || (tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
            {
                return tp.t_state == TcpState.TCPS_LISTEN ? Errno.EOPNOTSUPP : Errno.EISCONN;
            }

            error = Tcp.Connect(tp, dst, nam.Port);
        }

        Tcp.FlushOutput();
        return error;
    }

    /// <summary>tcp_usr_send: the data joins so_snd and tcp_output sends what the windows allow.</summary>
    public override int SendStream(Socket so, ReadOnlySpan<byte> data, out int taken)
    {
        taken = 0;
        Tcpcb tp = Tcp.TpOf(PcbOf(so));
        int error = 0;
        lock (tp.Lock)
        {
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0 || tp.t_state > TcpState.TCPS_CLOSE_WAIT || tp.t_state < TcpState.TCPS_SYN_SENT)
            {
                error = tp.t_state == TcpState.TCPS_CLOSED ? Errno.ENOTCONN : Errno.EPIPE;
            }
            else
            {
                taken = so.SbAppendSend(data);
                if (taken == 0 && data.Length > 0)
                {
                    error = Errno.ENOBUFS;
                }
                else
                {
                    Tcp.Output(tp);
                }
            }
        }

        Tcp.FlushOutput();
        return error;
    }

    /// <summary>Datagram-style sends do not apply to a stream.</summary>
    public override int Send(Socket so, ReadOnlySpan<byte> data, in Sockaddr to) => Errno.EOPNOTSUPP;

    /// <summary>tcp_usr_rcvd: the reader made room: a window update may be due.</summary>
    public override void Rcvd(Socket so)
    {
        Tcpcb tp = Tcp.TpOf(PcbOf(so));
        lock (tp.Lock)
        {
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) == 0 && TcpFsm.HaveEstablished(tp.t_state))
            {
                Tcp.Output(tp);
            }
        }

        Tcp.FlushOutput();
    }

    /// <summary>tcp_usr_shutdown: no more to send: FIN after what is queued.</summary>
    public override int Shutdown(Socket so)
    {
        Tcpcb tp = Tcp.TpOf(PcbOf(so));
        lock (tp.Lock)
        {
            so.SoCantSendMore();
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) == 0)
            {
                Tcp.UsrClosed(tp);
                if ((tp.t_flags & TcpCbFlags.TF_CLOSED) == 0)
                {
                    Tcp.Output(tp);
                }
            }
        }

        Tcp.FlushOutput();
        return 0;
    }

    /// <summary>tcp_usr_close + tcp_disconnect: before ESTABLISHED the connection just goes; SO_LINGER 0 resets it; otherwise FIN.</summary>
    public override void Close(Socket so)
    {
        Tcpcb tp = Tcp.TpOf(PcbOf(so));
        lock (tp.Lock)
        {
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
            {
                return;
            }

            if (tp.t_state < TcpState.TCPS_ESTABLISHED)
            {
                Tcp.TcpClose(tp);
            }
            else if (so.LingerSeconds == 0)
            {
                Tcp.TcpDrop(tp, 0);
            }
            else
            {
                so.SoIsDisconnecting();
                Tcp.UsrClosed(tp);
                if ((tp.t_flags & TcpCbFlags.TF_CLOSED) == 0)
                {
                    Tcp.Output(tp);
                }
            }
        }

        Tcp.FlushOutput();
    }

    /// <summary>tcp_usr_abort: RST and gone (a connection nobody accepted, its listener closing).</summary>
    public override void Abort(Socket so)
    {
        Tcpcb tp = Tcp.TpOf(PcbOf(so));
        lock (tp.Lock)
        {
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) == 0)
            {
                Tcp.TcpDrop(tp, Errno.ECONNABORTED);
            }
        }

        Tcp.FlushOutput();
    }

    /// <summary>tcp_ctloutput: TCP_NODELAY, TCP_NOPUSH, TCP_MAXSEG (read), the keepalive times; IP_TTL/IP_TOS at IPPROTO_IP.</summary>
    public override int CtlOutput(Socket so, int level, int name, bool set, ref int value)
    {
        InPcb inp = PcbOf(so);
        if (level == InOptions.IPPROTO_IP)
        {
            return IpCtlOutput(inp, name, set, ref value);
        }

        if (level != TcpOptionNames.IPPROTO_TCP)
        {
            return Errno.ENOPROTOOPT;
        }

        Tcpcb tp = Tcp.TpOf(inp);
        lock (tp.Lock)
        {
            switch (name)
            {
                case TcpOptionNames.TCP_NODELAY or TcpOptionNames.TCP_NOPUSH:
                    TcpCbFlags flag = name == TcpOptionNames.TCP_NODELAY ? TcpCbFlags.TF_NODELAY : TcpCbFlags.TF_NOPUSH;
                    if (set)
                    {
                        tp.t_flags = value != 0 ? tp.t_flags | flag : tp.t_flags & ~flag;
                        if (value != 0 && flag == TcpCbFlags.TF_NODELAY && TcpFsm.HaveEstablished(tp.t_state) && (tp.t_flags & TcpCbFlags.TF_CLOSED) == 0)
                        {
                            Tcp.Output(tp);
                        }
                    }

                    value = (tp.t_flags & flag) != 0 ? 1 : 0;
                    break;
                case TcpOptionNames.TCP_MAXSEG:
                    if (set)
                    {
                        if (value < Tcp.MinMss || value > 65535 - 40)
                        {
                            return Errno.EINVAL;
                        }

                        tp.maxseg = Math.Min(tp.maxseg, value);
                    }

                    value = tp.t_maxseg;
                    break;
                default:
                    return Errno.ENOPROTOOPT;
            }
        }

        Tcp.FlushOutput();
        return 0;
    }
}

public static partial class Tcp
{
    /// <summary>The inetsw entry.</summary>
    public static readonly TcpProtosw Protosw = new();

    /// <summary>net.inet.tcp.sendspace.</summary>
    internal static int SendSpace => V_tcp_sendspace;

    /// <summary>net.inet.tcp.recvspace.</summary>
    internal static int RecvSpace => V_tcp_recvspace;

    /// <summary>in_proto.c's TCP line: TCP registers itself with the inet domain, after UDP/ICMP/raw.</summary>
    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAININIT, SiOrder.SI_ORDER_SECOND)]
    private static void tcp_proto_init() => InetDomain.Register(Protosw);

    internal static Tcpcb TpOf(InPcb inp) => (Tcpcb)(inp.Ppcb ?? throw new InvalidOperationException("inpcb has no tcpcb"));

    /// <summary>tcp_connect: in_pcbconnect (source, ephemeral port, unique 4-tuple), then the SYN.</summary>
    internal static int Connect(Tcpcb tp, InAddr dst, ushort dport)
    {
        InPcb inp = tp.Inp;
        int error = inp.Info.PcbConnect(inp, dst, dport);
        if (error != 0)
        {
            return error;
        }

        PcbEnds ends = inp.Ends;
        tp.iss = NewIsn(ends.Local, ends.LocalPort, dst, dport);
        tp.snd_una = tp.snd_nxt = tp.snd_max = tp.snd_up = tp.iss;
        tp.snd_recover = tp.iss;
        tp.request_r_scale = RequestRScale();
        tp.ts_offset = NewIsn(dst, dport, ends.Local, ends.LocalPort, 0) ^ 0x5a5a5a5a;
        Mss(tp, 0);
        tp.t_state = TcpState.TCPS_SYN_SENT;
        tp.t_rcvtime = NetTimers.NowUs;
        tp.So.SoIsConnecting();
        TimerActivate(tp, TcpTimerKind.TT_KEEP, MsToUs(V_tcp_keepinit));
        Stat(TcpStat.tcps_connattempt);
        Output(tp);
        return 0;
    }
}
