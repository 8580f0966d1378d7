using System.Diagnostics;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_input (netinet/tcp_input.c), first part: the checks every segment passes before a PCB lookup (length,
/// checksum over the pseudo-header, data offset, options), then, with no connection to take it,
/// tcp_dropwithreset. There are no TCP PCBs yet, so every acceptable segment reaches a closed port.
/// </summary>
public static partial class Tcp
{
    internal static readonly IpProtocolInput InputHandler = Input;

    /// <summary>tcp_input: the mbuf's data starts at the IP header of <paramref name="hlen"/> bytes; we own it.</summary>
    internal static void Input(Mbuf m, int hlen)
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
        if (!TcpHeader.ChecksumValid(seg, src, dst))
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

        // tcp_dooptions runs once a PCB wants them; parsing here keeps hostile options on the tested path.
        TcpOpt to = TcpOptions.Parse(seg[TcpHeader.MinLength..th.DataOffset], (th.Flags & TcpFlags.TH_SYN) != 0 ? TcpOptContext.TO_SYN : TcpOptContext.None);
        _ = to;
        int dataLength = tlen - th.DataOffset;

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
    /// tcp_dropwithreset: answers a segment nobody takes with a RST (RFC 9293 §3.10.7.1), never to a RST, nor to
    /// a broadcast or multicast segment, and at most net.inet.icmp.icmplim per second (badport_bandlim). With ACK set the RST carries seq = SEG.ACK; otherwise seq 0 and
    /// ACK = SEG.SEQ + SEG.LEN (SYN and FIN count one each). Consumes <paramref name="m"/>.
    /// </summary>
    private static void DropWithReset(Mbuf m, InAddr src, InAddr dst, in TcpHeader th, int dataLength)
    {
        bool linkCast = (m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0;
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
            Respond(dst, th.DestinationPort, src, th.SourcePort, th.Ack, 0, TcpFlags.TH_RST);
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

        Respond(dst, th.DestinationPort, src, th.SourcePort, 0, th.Seq + seglen, TcpFlags.TH_RST | TcpFlags.TH_ACK);
    }

    /// <summary>
    /// tcp_respond without a tcpcb: a bare control segment (no options, window 0) from
    /// <paramref name="src"/>:<paramref name="sport"/> built in a pooled mbuf and handed to ip_output.
    /// </summary>
    internal static int Respond(InAddr src, ushort sport, InAddr dst, ushort dport, uint seq, uint ack, TcpFlags flags)
    {
        Mbuf? m = MbufPool.GetFor(TcpHeader.MinLength);
        if (m is null)
        {
            return Errno.ENOBUFS;
        }

        Span<byte> seg = m.Append(TcpHeader.MinLength);
        new TcpHeader(sport, dport, seq, ack, TcpHeader.MinLength, flags, 0, 0).Write(seg);
        TcpHeader.SetChecksum(seg, src, dst);
        Stat(TcpStat.tcps_sndtotal);
        Stat(TcpStat.tcps_sndctrl);
        return IpOutput.Send(m, src, dst, IpProto.Tcp);
    }

    private static void Drop(Mbuf m, TcpStat reason)
    {
        Stat(reason);
        m.Free();
    }
}
