namespace Vimage.Net.Inet;

/// <summary>
/// ip_dooptions: options are walked and length-checked (malformed → ICMP parameter problem and ips_badoptions),
/// source routes are refused unless net.inet.ip.accept_sourceroute, Record Route gets our address when the packet
/// is for us (when forwarded, the outgoing interface's address, added by the forwarding path) and Timestamp gets
/// the time (and our address) at every hop. Packets with options take the slow forwarding path.
/// </summary>
public static class IpOptions
{
    public const byte EndOfList = 0;
    public const byte NoOp = 1;
    public const byte OptRecordRoute = 7;
    public const byte Timestamp = 68;
    public const byte Security = 130;
    public const byte LooseSourceRoute = 131;
    public const byte StrictSourceRoute = 137;

    /// <summary>IPOPT_MINOFF: the pointer of an empty route or timestamp list (1-based).</summary>
    public const int MinOffset = 4;

    /// <summary>MAX_IPOPTLEN.</summary>
    public const int MaxLength = 40;

    /// <summary>IPOPT_TS_TSONLY, IPOPT_TS_TSANDADDR, IPOPT_TS_PRESPEC: the Timestamp option's flag (low nibble).</summary>
    public const byte TsOnly = 0, TsAndAddr = 1, TsPrespec = 3;

    /// <summary>False when the packet was consumed (dropped or answered with an error).</summary>
    public static bool Process(Ifnet ifp, Mbuf m, int hlen)
    {
        int mode = Ip.ProcessOptions;
        if (mode == 0)
        {
            return true;
        }

        if (mode == 2)
        {
            IpInput.Drop(m, IpStat.ips_badoptions);
            return false;
        }

        var ip = new IpHeader(m.Data);
        InAddr dst = ip.Destination;
        Span<byte> options = m.Data[IpHeader.MinLength..hlen];
        bool changed = false;
        for (int i = 0; i < options.Length;)
        {
            byte type = options[i];
            if (type == EndOfList)
            {
                break;
            }

            if (type == NoOp)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length || options[i + 1] < 2 || i + options[i + 1] > options.Length)
            {
                return Bad(m, i + 1);
            }

            int length = options[i + 1];
            Span<byte> cp = options.Slice(i, length);
            int bad = type switch
            {
                LooseSourceRoute or StrictSourceRoute when !Ip.AcceptSourceRoute => -2,
                OptRecordRoute => RecordIfOurs(ifp, cp, dst, ref changed),
                Timestamp => StampTime(ifp, cp, dst, ref changed),
                _ => -1,
            };
            if (bad == -2)
            {
                Ip.Stat(IpStat.ips_badoptions);
                Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachSourceRouteFailed);
                return false;
            }

            if (bad >= 0)
            {
                return Bad(m, i + bad);
            }

            i += length;
        }

        if (changed)
        {
            ip.UpdateChecksum();
        }

        return true;
    }

    /// <summary>ip_dooptions' "bad": a parameter problem pointing at option byte <paramref name="at"/>.</summary>
    private static bool Bad(Mbuf m, int at)
    {
        Ip.Stat(IpStat.ips_badoptions);
        Icmp.Error(m, IcmpType.ParameterProblem, 0, (uint)(IpHeader.MinLength + at) << 24);
        return false;
    }

    /// <summary>
    /// IPOPT_RR for a packet addressed to us: our address (ip_dst itself, or for a broadcast the receiving
    /// interface's) in the next free slot. Returns -1, or the option byte at fault.
    /// </summary>
    private static int RecordIfOurs(Ifnet ifp, Span<byte> cp, InAddr dst, ref bool changed)
    {
        if (cp.Length < 3)
        {
            return 1;
        }

        int off = cp[2];
        if (off < MinOffset)
        {
            return 2;
        }

        if (off - 1 > cp.Length - 4 || !InAddrs.IsLocal(dst, ifp))
        {
            return -1; // full, or forwarded: IpForward records the outgoing interface's address
        }

        InAddr ours = InAddrs.IsAddress(dst) ? dst : InAddrs.SourceFor(ifp, dst);
        ours.Write(cp[(off - 1)..]);
        cp[2] = (byte)(off + 4);
        changed = true;
        return -1;
    }

    /// <summary>IPOPT_TS at any hop: the time, after our address (TSANDADDR) or when the next slot names us (PRESPEC).</summary>
    private static int StampTime(Ifnet ifp, Span<byte> cp, InAddr dst, ref bool changed)
    {
        if (cp.Length is < 4 or > MaxLength)
        {
            return 1;
        }

        int off = cp[2];
        if (off < 5)
        {
            return 1;
        }

        if (off > cp.Length - 4)
        {
            // No room: count the hop in the overflow nibble; its own overflow is a parameter problem.
            cp[3] = (byte)(cp[3] + 0x10);
            changed = true;
            return (cp[3] & 0xf0) == 0 ? 2 : -1;
        }

        off--; // 0 origin
        switch (cp[3] & 0x0f)
        {
            case TsOnly:
                break;
            case TsAndAddr:
            case TsPrespec:
                if (off + 8 > cp.Length)
                {
                    return 2;
                }

                InAddr slot = InAddr.Read(cp[off..]);
                InAddr ours = (cp[3] & 0x0f) == TsAndAddr ? InAddrs.SourceFor(ifp, dst) : slot;
                if (ours.IsAny || ((cp[3] & 0x0f) == TsPrespec && !InAddrs.IsAddress(slot)))
                {
                    return -1; // not ours to stamp
                }

                ours.Write(cp[off..]);
                cp[2] += 4;
                off += 4;
                break;
            default:
                return 3;
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(cp[off..], IpTime());
        cp[2] += 4;
        changed = true;
        return -1;
    }

    /// <summary>iptime: milliseconds since midnight UTC (RFC 791's timestamp, RFC 792's ICMP timestamps).</summary>
    public static uint IpTime() => (uint)(DateTime.UtcNow.TimeOfDay.Ticks / TimeSpan.TicksPerMillisecond);

    /// <summary>
    /// icmp_reflect's option copy: the Record Route, Timestamp and Security options of <paramref name="options"/>
    /// into <paramref name="into"/>, padded with EOL to a multiple of 4. Returns the length written (0: none).
    /// </summary>
    public static int CopyReflected(ReadOnlySpan<byte> options, Span<byte> into)
    {
        int n = 0;
        for (int i = 0, len; i < options.Length; i += len)
        {
            byte opt = options[i];
            if (opt == EndOfList)
            {
                break;
            }

            if (opt == NoOp)
            {
                len = 1;
                continue;
            }

            if (options.Length - i < 2 || (len = options[i + 1]) < 2 || len > options.Length - i)
            {
                break;
            }

            if (opt is OptRecordRoute or Timestamp or Security)
            {
                options.Slice(i, len).CopyTo(into[n..]);
                n += len;
            }
        }

        while (n % 4 != 0)
        {
            into[n++] = EndOfList;
        }

        return n;
    }

    /// <summary>Adds <paramref name="address"/> to a Record Route option with room left, then fixes the checksum.</summary>
    public static void RecordRoute(Mbuf m, InAddr address)
    {
        var ip = new IpHeader(m.Data);
        Span<byte> options = m.Data[IpHeader.MinLength..ip.HeaderLength];
        for (int i = 0; i < options.Length;)
        {
            byte type = options[i];
            if (type == EndOfList)
            {
                return;
            }

            if (type == NoOp)
            {
                i++;
                continue;
            }

            int length = options[i + 1];
            if (type == OptRecordRoute && length >= 3)
            {
                int pointer = options[i + 2]; // 1-based offset of the next free slot
                if (pointer >= MinOffset && pointer + 3 <= length)
                {
                    address.Write(options[(i + pointer - 1)..]);
                    options[i + 2] = (byte)(pointer + 4);
                    ip.UpdateChecksum();
                }

                return;
            }

            i += Math.Max(length, 2);
        }
    }
}
