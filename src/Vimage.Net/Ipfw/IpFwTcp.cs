using System.Buffers.Binary;

namespace Vimage.Net.Ipfw;

/// <summary>
/// ipfw_chk's TCP and IP header options (netpfil/ipfw/ip_fw2.c): O_ESTAB, O_TCPFLAGS (setup), O_TCPOPTS,
/// O_TCPSEQ, O_TCPACK, O_TCPWIN, O_IPLEN, O_IPTTL, O_IPTOS. The TCP ones match only a first fragment of TCP with a
/// whole header, read straight from the packet (ipfw sits below Tcp and names nothing of it).
/// </summary>
public static class IpFwTcp
{
    private const byte TH_SYN = 0x02, TH_RST = 0x04, TH_ACK = 0x10;

    /// <summary>IP_FW_TCPOPT_* (ip_fw.h).</summary>
    public const byte OptMss = 0x01, OptWindow = 0x02, OptSack = 0x04, OptTs = 0x08, OptCc = 0x10;

    internal static bool Match(IpFwCmd cmd, in IpFwPacket pkt, ReadOnlySpan<byte> ip)
    {
        switch (cmd.Op)
        {
            case IpFwOp.Estab:
                // reject packets which have SYN only
                return pkt.HasTcpHeader && (pkt.TcpFlags & (TH_RST | TH_ACK | TH_SYN)) != TH_SYN;
            case IpFwOp.TcpFlags:
                return pkt.HasTcpHeader && FlagsMatch(cmd.Value, pkt.TcpFlags);
            case IpFwOp.TcpOpts:
                return pkt.HasTcpHeader && FlagsMatch(cmd.Value, OptionBits(ip[pkt.HeaderLength..]));
            case IpFwOp.TcpSeq:
                return pkt.HasTcpHeader && BinaryPrimitives.ReadUInt32BigEndian(ip[(pkt.HeaderLength + 4)..]) == cmd.Value;
            case IpFwOp.TcpAck:
                return pkt.HasTcpHeader && BinaryPrimitives.ReadUInt32BigEndian(ip[(pkt.HeaderLength + 8)..]) == cmd.Value;
            case IpFwOp.TcpWin:
                return pkt.HasTcpHeader && ValueMatch(cmd, BinaryPrimitives.ReadUInt16BigEndian(ip[(pkt.HeaderLength + 14)..]));
            case IpFwOp.IpLen:
                return ValueMatch(cmd, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
            case IpFwOp.IpTtl:
                return ValueMatch(cmd, pkt.Ttl);
            case IpFwOp.IpTos:
                return FlagsMatch(cmd.Value, pkt.Tos);
            default:
                return false;
        }
    }

    /// <summary>flags_match: every bit of arg1's low byte set in <paramref name="bits"/>, every bit of its high byte clear.</summary>
    internal static bool FlagsMatch(uint arg1, byte bits)
    {
        uint set = arg1 & 0xff, clear = (arg1 >> 8) & 0xff;
        return (bits & set) == set && (bits & clear) == 0;
    }

    private static bool ValueMatch(IpFwCmd cmd, int value) => cmd.Ports is { } ranges ? IpFwRule.PortsMatch(ranges, value) : value == cmd.Value;

    /// <summary>tcpopts_parse: which of MSS, window scale, SACK (permitted or blocks), timestamps, CC the segment carries.</summary>
    internal static byte OptionBits(ReadOnlySpan<byte> tcp)
    {
        int off = (tcp[12] >> 4) * 4;
        if (off < 20 || off > tcp.Length)
        {
            return 0;
        }

        byte bits = 0;
        ReadOnlySpan<byte> opts = tcp[20..off];
        for (int i = 0; i < opts.Length;)
        {
            byte kind = opts[i];
            if (kind == 0)
            {
                break; // TCPOPT_EOL
            }

            if (kind == 1)
            {
                i++; // TCPOPT_NOP
                continue;
            }

            if (i + 1 >= opts.Length || opts[i + 1] < 2)
            {
                break; // a bad length ends the walk
            }

            bits |= kind switch
            {
                2 => OptMss,
                3 => OptWindow,
                4 or 5 => OptSack,
                8 => OptTs,
                11 or 12 or 13 => OptCc,
                _ => 0,
            };
            i += opts[i + 1];
        }

        return bits;
    }
}
