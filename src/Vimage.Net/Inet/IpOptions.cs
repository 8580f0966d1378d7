namespace Vimage.Net.Inet;

/// <summary>
/// ip_dooptions, reduced: options are walked and length-checked (malformed → ICMP parameter problem and
/// ips_badoptions), source routes are refused unless net.inet.ip.accept_sourceroute, and Record Route gets the
/// outgoing address when the packet is forwarded. Packets with options take the slow forwarding path.
/// </summary>
public static class IpOptions
{
    public const byte EndOfList = 0;
    public const byte NoOp = 1;
    public const byte OptRecordRoute = 7;
    public const byte Timestamp = 68;
    public const byte LooseSourceRoute = 131;
    public const byte StrictSourceRoute = 137;

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

        Span<byte> options = m.Data[IpHeader.MinLength..hlen];
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
                Ip.Stat(IpStat.ips_badoptions);
                Icmp.Error(m, IcmpType.ParameterProblem, 0, (uint)(IpHeader.MinLength + i) << 24);
                return false;
            }

            if ((type == LooseSourceRoute || type == StrictSourceRoute) && !Ip.AcceptSourceRoute)
            {
                Ip.Stat(IpStat.ips_badoptions);
                Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachSourceRouteFailed);
                return false;
            }

            i += options[i + 1];
        }

        return true;
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
                if (pointer >= 4 && pointer + 3 <= length)
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
