using System.Buffers.Binary;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's names (netinet/tcp_var.h, netinet/tcp.h).

/// <summary>struct tcpopt's to_flags.</summary>
[Flags]
public enum TcpOptFlags : ushort
{
    None = 0,
    TOF_MSS = 0x0001,
    TOF_SCALE = 0x0002,
    TOF_SACKPERM = 0x0004,
    TOF_TS = 0x0010,
    TOF_SACK = 0x0080,
}

/// <summary>tcp_dooptions' flags argument.</summary>
[Flags]
public enum TcpOptContext
{
    None = 0,

    /// <summary>TO_SYN: MSS, window scale and SACK-permitted count only on a SYN.</summary>
    TO_SYN = 0x01,
}

#pragma warning restore CA1707

/// <summary>
/// struct tcpopt (netinet/tcp_var.h): the options of one segment, parsed by <see cref="TcpOptions.Parse"/> or to
/// be written by <see cref="TcpOptions.Write"/>. SACK blocks stay in the segment: <see cref="SackOffset"/> is
/// where they start in the option bytes given to Parse.
/// </summary>
public struct TcpOpt
{
    public TcpOptFlags Flags;

    /// <summary>to_mss.</summary>
    public ushort Mss;

    /// <summary>to_wscale (already clamped to TCP_MAX_WINSHIFT).</summary>
    public byte WScale;

    /// <summary>to_tsval.</summary>
    public uint TsVal;

    /// <summary>to_tsecr.</summary>
    public uint TsEcr;

    /// <summary>to_nsacks.</summary>
    public byte NSacks;

    /// <summary>Offset of the first SACK block (8 bytes: start, end) in the parsed option bytes.</summary>
    public byte SackOffset;
}

/// <summary>tcp_dooptions and tcp_addoptions (netinet/tcp_input.c, tcp_output.c).</summary>
public static class TcpOptions
{
    public const byte TCPOPT_EOL = 0;
    public const byte TCPOPT_NOP = 1;
    public const byte TCPOPT_MAXSEG = 2;
    public const byte TCPOPT_WINDOW = 3;
    public const byte TCPOPT_SACK_PERMITTED = 4;
    public const byte TCPOPT_SACK = 5;
    public const byte TCPOPT_TIMESTAMP = 8;

    /// <summary>TCP_MAX_WINSHIFT (RFC 7323 §2.3).</summary>
    public const int MaxWinShift = 14;

    /// <summary>
    /// tcp_dooptions: walks the option bytes (after the fixed header, up to th_off). A truncated or malformed option
    /// ends the walk; an option of the wrong length, or a SYN-only option on a non-SYN, is skipped. Never throws.
    /// </summary>
    public static TcpOpt Parse(ReadOnlySpan<byte> cp, TcpOptContext context)
    {
        var to = default(TcpOpt);
        bool syn = (context & TcpOptContext.TO_SYN) != 0;
        int i = 0;
        while (i < cp.Length)
        {
            byte opt = cp[i];
            if (opt == TCPOPT_EOL)
            {
                break;
            }

            int optlen = 1;
            if (opt != TCPOPT_NOP)
            {
                if (cp.Length - i < 2)
                {
                    break;
                }

                optlen = cp[i + 1];
                if (optlen < 2 || optlen > cp.Length - i)
                {
                    break;
                }
            }

            ReadOnlySpan<byte> o = cp.Slice(i, optlen);
            switch (opt)
            {
                case TCPOPT_MAXSEG when optlen == 4 && syn:
                    to.Flags |= TcpOptFlags.TOF_MSS;
                    to.Mss = BinaryPrimitives.ReadUInt16BigEndian(o[2..]);
                    break;
                case TCPOPT_WINDOW when optlen == 3 && syn:
                    to.Flags |= TcpOptFlags.TOF_SCALE;
                    to.WScale = (byte)Math.Min((int)o[2], MaxWinShift);
                    break;
                case TCPOPT_TIMESTAMP when optlen == 10:
                    to.Flags |= TcpOptFlags.TOF_TS;
                    to.TsVal = BinaryPrimitives.ReadUInt32BigEndian(o[2..]);
                    to.TsEcr = BinaryPrimitives.ReadUInt32BigEndian(o[6..]);
                    break;
                case TCPOPT_SACK_PERMITTED when optlen == 2 && syn:
                    to.Flags |= TcpOptFlags.TOF_SACKPERM;
                    break;
                case TCPOPT_SACK when optlen > 2 && (optlen - 2) % 8 == 0 && !syn:
                    to.Flags |= TcpOptFlags.TOF_SACK;
                    to.NSacks = (byte)((optlen - 2) / 8);
                    to.SackOffset = (byte)(i + 2);
                    break;
            }

            i += optlen;
        }

        return to;
    }

    /// <summary>
    /// tcp_addoptions: writes the options of <paramref name="to"/> in FreeBSD's order and alignment (MSS, NOP +
    /// window scale, SACK-permitted on an even offset, timestamps at offset 2 mod 4), padded with EOL to a multiple
    /// of 4. Returns the length written (at most <see cref="TcpHeader.MaxOptionLength"/>). SACK blocks are not
    /// written yet (no SACK sender).
    /// </summary>
    public static int Write(in TcpOpt to, Span<byte> optp)
    {
        int n = 0;
        if ((to.Flags & TcpOptFlags.TOF_MSS) != 0)
        {
            optp[n++] = TCPOPT_MAXSEG;
            optp[n++] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(optp[n..], to.Mss);
            n += 2;
        }

        if ((to.Flags & TcpOptFlags.TOF_SCALE) != 0)
        {
            while (n == 0 || n % 2 != 1)
            {
                optp[n++] = TCPOPT_NOP;
            }

            optp[n++] = TCPOPT_WINDOW;
            optp[n++] = 3;
            optp[n++] = Math.Min(to.WScale, (byte)MaxWinShift);
        }

        if ((to.Flags & TcpOptFlags.TOF_SACKPERM) != 0)
        {
            while (n % 2 != 0)
            {
                optp[n++] = TCPOPT_NOP;
            }

            optp[n++] = TCPOPT_SACK_PERMITTED;
            optp[n++] = 2;
        }

        if ((to.Flags & TcpOptFlags.TOF_TS) != 0)
        {
            while (n == 0 || n % 4 != 2)
            {
                optp[n++] = TCPOPT_NOP;
            }

            optp[n++] = TCPOPT_TIMESTAMP;
            optp[n++] = 10;
            BinaryPrimitives.WriteUInt32BigEndian(optp[n..], to.TsVal);
            BinaryPrimitives.WriteUInt32BigEndian(optp[(n + 4)..], to.TsEcr);
            n += 8;
        }

        while (n % 4 != 0)
        {
            optp[n++] = TCPOPT_EOL;
        }

        return n;
    }
}
