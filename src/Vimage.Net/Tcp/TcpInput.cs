using System.Diagnostics;
using Vimage.Net.Inet;
using Vimage.Net.Route;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_input (netinet/tcp_input.c), first part: the checks every segment passes before a PCB lookup (length,
/// checksum over the pseudo-header, data offset, options), the lookup, the listener's case, and
/// tcp_dropwithreset for a segment no connection takes. tcp_do_segment is in TcpDoSegment.cs.
/// </summary>
public static partial class Tcp
{
    internal static readonly IpProtocolInput InputHandler = Input;

    /// <summary>
    /// tcp_input: the mbuf's data starts at the IP header of <paramref name="hlen"/> bytes; we own it. After the
    /// checks, in_pcblookup_mbuf semantics: the connection of the exact 4-tuple (lock-free), else a listener on the
    /// destination address or the wildcard; then, under that connection's lock, the listener's syncache or
    /// tcp_do_segment. Segments this queued go out once the lock is released.
    /// </summary>
    internal static void Input(Mbuf m, int hlen)
    {
        try
        {
            InputLocked(m, hlen);
        }
        finally
        {
            FlushOutput();
        }
    }

    private static void InputLocked(Mbuf m, int hlen)
    {
        Stat(TcpStat.tcps_rcvtotal);
        ReadOnlySpan<byte> p = m.Data;
        int tlen = p.Length - hlen;
        if (tlen < TcpHeader.MinLength)
        {
            Drop(m, TcpStat.tcps_rcvshort);
            return;
        }

        InAddr src = InAddr.Read(p[12..]);
        InAddr dst = InAddr.Read(p[16..]);
        ReadOnlySpan<byte> seg = p[hlen..];
        if (!CsumVerified(m) && !TcpHeader.ChecksumValid(seg, src, dst))
        {
            Drop(m, TcpStat.tcps_rcvbadsum);
            return;
        }

        TcpHeader th = TcpHeader.Read(seg);
        if (th.DataOffset < TcpHeader.MinLength || th.DataOffset > tlen)
        {
            Drop(m, TcpStat.tcps_rcvbadoff);
            return;
        }

        TcpOpt to = TcpOptions.Parse(seg[TcpHeader.MinLength..th.DataOffset], (th.Flags & TcpFlags.TH_SYN) != 0 ? TcpOptContext.TO_SYN : TcpOptContext.None);
        int dataLength = tlen - th.DataOffset;
        if ((th.Flags & (TcpFlags.TH_SYN | TcpFlags.TH_FIN)) == (TcpFlags.TH_SYN | TcpFlags.TH_FIN) && V_drop_synfin != 0)
        {
            m.Free(); // net.inet.tcp.drop_synfin
            return;
        }

        InPcbInfo table = V_tcbinfo;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            InPcb? inp = table.LookupExact(src, th.SourcePort, dst, th.DestinationPort)
                ?? table.LookupListener(dst, th.DestinationPort);
            if (inp?.Ppcb is not Tcpcb tp)
            {
                break;
            }

            bool retry = false, closed = false;
            lock (tp.Lock)
            {
                if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
                {
                    retry = true; // closed while we looked it up (INP_DROPPED): look again
                }
                else if (tp.t_state == TcpState.TCPS_LISTEN)
                {
                    ListenInput(tp, m, hlen, src, dst, in th, in to, dataLength);
                    return;
                }
                else if (tp.t_state == TcpState.TCPS_CLOSED)
                {
                    // tcp_input: a bound socket that neither listens nor connects is a closed port
                    // (BANDLIM_RST_CLOSEDPORT, straight to dropwithreset).
                    closed = true;
                }
                else if (tp.t_state == TcpState.TCPS_TIME_WAIT && (th.Flags & TcpFlags.TH_SYN) != 0 && (th.Flags & TcpFlags.TH_ACK) == 0
                    && TcpSeq.Gt(th.Seq, tp.rcv_nxt))
                {
                    // tcp_twcheck: a new SYN beyond the old connection's sequence space ends TIME_WAIT early.
                    TcpClose(tp);
                    retry = true;
                }
                else
                {
                    DoSegment(tp, m, hlen, in th, in to, dataLength);
                    return;
                }
            }

            if (closed)
            {
                DropWithReset(m, src, dst, th, dataLength);
                return;
            }

            if (!retry)
            {
                break;
            }
        }

        // No listening or connected PCB (in_pcblookup_mbuf found none).
        int logInVain = V_tcp_log_in_vain;
        if (logInVain == 2 || (logInVain == 1 && (th.Flags & TcpFlags.TH_SYN) != 0))
        {
            Trace.TraceInformation($"Connection attempt to TCP {dst}:{th.DestinationPort} from {src}:{th.SourcePort} flags:0x{(byte)th.Flags:x2}");
        }

        switch (V_blackhole)
        {
            case 1 when (th.Flags & TcpFlags.TH_SYN) != 0:
            case 2:
                m.Free();
                return;
        }

        DropWithReset(m, src, dst, th, dataLength);
    }

    /// <summary>
    /// tcp_input's LISTEN case: a RST is dropped; an ACK completes a handshake from the syncache (the new connection,
    /// locked, then processes the ACK and any data with it); a SYN adds an entry; anything else is dropped or reset.
    /// </summary>
    private static void ListenInput(Tcpcb lp, Mbuf m, int hlen, InAddr src, InAddr dst, in TcpHeader th, in TcpOpt to, int dataLength)
    {
        TcpFlags f = th.Flags;
        if ((f & TcpFlags.TH_RST) != 0)
        {
            if (V_tcp_syncache.Lookup(src, th.SourcePort, dst, th.DestinationPort, remove: true) is not null)
            {
                Stat(TcpStat.tcps_sc_reset); // syncache_chkrst
            }

            m.Free();
            return;
        }

        if ((f & TcpFlags.TH_ACK) != 0 && (f & TcpFlags.TH_SYN) == 0)
        {
            switch (SyncacheExpand(lp, src, th.SourcePort, dst, th.DestinationPort, in th, in to, out Tcpcb? ntp))
            {
                case ExpandResult.Created:
                    lock (ntp!.Lock)
                    {
                        DoSegment(ntp, m, hlen, in th, in to, dataLength);
                    }

                    return;
                case ExpandResult.SocketFailed when V_tcp_sc_rst_sock_fail == 0:
                    m.Free();
                    return;
                default:
                    Stat(TcpStat.tcps_badsyn);
                    DropWithReset(m, src, dst, th, dataLength);
                    return;
            }
        }

        if ((f & TcpFlags.TH_SYN) == 0 || (f & TcpFlags.TH_ACK) != 0)
        {
            if ((f & TcpFlags.TH_ACK) != 0)
            {
                DropWithReset(m, src, dst, th, dataLength); // a SYN-ACK to a listener
                return;
            }

            m.Free();
            return;
        }

        // A SYN: never from or to a broadcast/multicast address, nor to ourselves from ourselves on the same port.
        if ((m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0 || src.IsMulticast || dst.IsMulticast
            || src.IsBroadcast || InAddrs.IsBroadcast(dst) || src.IsAny || (src == dst && th.SourcePort == th.DestinationPort))
        {
            Stat(TcpStat.tcps_badsyn);
            m.Free();
            return;
        }

        m.Free();
        SyncacheAdd(lp, src, th.SourcePort, dst, th.DestinationPort, in th, in to);
    }

    /// <summary>
    /// tcp_dropwithreset: answers a segment nobody takes with a RST (RFC 9293 §3.10.7.1), never to a RST, nor to
    /// a broadcast or multicast segment, and at most net.inet.icmp.icmplim per second (badport_bandlim). With ACK set the RST carries seq = SEG.ACK; otherwise seq 0 and
    /// ACK = SEG.SEQ + SEG.LEN (SYN and FIN count one each). Consumes <paramref name="m"/>.
    /// </summary>
    private static void DropWithReset(Mbuf m, InAddr src, InAddr dst, in TcpHeader th, int dataLength)
    {
        bool linkCast = (m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0;
        int fib = Fibs.GetFib(m); // tcp_respond without a tcpcb: M_GETFIB of the segment
        m.Free();
        if ((th.Flags & TcpFlags.TH_RST) != 0 || linkCast || src.IsMulticast || dst.IsMulticast
            || src.IsBroadcast || dst.IsBroadcast || InAddrs.IsBroadcast(dst) || src.IsAny)
        {
            return;
        }

        if (!Icmp.RateAllows(BandLim.TcpRstClosedPort))
        {
            return; // badport_bandlim: net.inet.icmp.icmplim caps RSTs too (no reflection amplifier)
        }

        if ((th.Flags & TcpFlags.TH_ACK) != 0)
        {
            Respond(dst, th.DestinationPort, src, th.SourcePort, th.Ack, 0, TcpFlags.TH_RST, fib);
            return;
        }

        uint seglen = (uint)dataLength;
        if ((th.Flags & TcpFlags.TH_SYN) != 0)
        {
            seglen++;
        }

        if ((th.Flags & TcpFlags.TH_FIN) != 0)
        {
            seglen++;
        }

        Respond(dst, th.DestinationPort, src, th.SourcePort, 0, th.Seq + seglen, TcpFlags.TH_RST | TcpFlags.TH_ACK, fib);
    }

    /// <summary>
    /// tcp_respond without a tcpcb: a bare control segment (no options, window 0) from
    /// <paramref name="src"/>:<paramref name="sport"/> built in a pooled mbuf and queued for ip_output (sent when the caller flushes).
    /// </summary>
    internal static int Respond(InAddr src, ushort sport, InAddr dst, ushort dport, uint seq, uint ack, TcpFlags flags, int fib = Fibs.RT_DEFAULT_FIB)
    {
        Mbuf? m = MbufPool.GetFor(TcpHeader.MinLength);
        if (m is null)
        {
            return Errno.ENOBUFS;
        }

        Span<byte> seg = m.Append(TcpHeader.MinLength);
        new TcpHeader(sport, dport, seq, ack, TcpHeader.MinLength, flags, 0, 0).Write(seg);
        TcpHeader.SetChecksum(seg, src, dst);
        Stat(TcpStat.tcps_sndctrl);
        Enqueue(m, src, dst, new IpOutputOptions { Fib = fib });
        return 0;
    }

    private static void Drop(Mbuf m, TcpStat reason)
    {
        Stat(reason);
        m.Free();
    }
}
