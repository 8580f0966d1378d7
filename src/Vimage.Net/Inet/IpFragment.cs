namespace Vimage.Net.Inet;

/// <summary>
/// ip_fragment (netinet/ip_output.c): splits a datagram that does not fit the interface MTU into fragments.
/// The first fragment keeps the whole header, options included; later ones get the 20-byte header plus only the
/// options whose copied flag (bit 0x80: security, LSRR, SSRR) is set, padded to a multiple of four (ip_optcopy),
/// so Record Route and Timestamp travel in the first fragment only, as RFC 791 says.
/// Every fragment is a fresh pooled buffer; the original is freed.
/// </summary>
public static class IpFragment
{
    /// <summary>
    /// Fragments the packet in <paramref name="m"/> (data at its IP header) for <paramref name="mtu"/> and hands each
    /// fragment to <paramref name="send"/>, in order. A packet that already fits is sent as is. Returns 0, the first
    /// errno <paramref name="send"/> returned (the fragments not yet sent are then freed, as ip_output does),
    /// EMSGSIZE (DF set, or an MTU too small for 8 payload bytes: ips_cantfrag), EINVAL (malformed header) or
    /// ENOBUFS (pool exhausted: ips_odropped). <paramref name="m"/> is consumed either way.
    /// </summary>
    public static int Output(Mbuf m, int mtu, Func<Mbuf, int> send)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(send);
        Span<byte> packet = m.Data;
        if (packet.Length < IpHeader.MinLength)
        {
            return Fail(m, IpStat.ips_odropped, Errno.EINVAL);
        }

        var ip = new IpHeader(packet);
        int hlen = ip.HeaderLength;
        int total = ip.TotalLength;
        if (hlen < IpHeader.MinLength || total < hlen || total > packet.Length)
        {
            return Fail(m, IpStat.ips_odropped, Errno.EINVAL);
        }

        if (total <= mtu)
        {
            m.Truncate(total);
            return send(m);
        }

        if (ip.DontFragment)
        {
            return Fail(m, IpStat.ips_cantfrag, Errno.EMSGSIZE);
        }

        Span<byte> laterOptions = stackalloc byte[40];
        int laterOptionsLength = CopyOptions(packet[IpHeader.MinLength..hlen], laterOptions);
        int laterHlen = IpHeader.MinLength + laterOptionsLength;
        int firstPayload = (mtu - hlen) & ~7;
        int laterPayload = (mtu - laterHlen) & ~7;
        if (firstPayload < 8 || laterPayload < 8)
        {
            return Fail(m, IpStat.ips_cantfrag, Errno.EMSGSIZE);
        }

        // Re-fragmenting a fragment (forwarding onto a smaller MTU): offsets continue from the original's, and
        // the last piece keeps the original's MF.
        int baseOffset = ip.FragmentOffset;
        bool originalMore = ip.MoreFragments;
        int payload = total - hlen;
        if (baseOffset + payload > IpHeader.MaxPacket)
        {
            return Fail(m, IpStat.ips_odropped, Errno.EMSGSIZE);
        }

        Mbuf? head = null, tail = null;
        int count = 0;
        for (int offset = 0; offset < payload;)
        {
            bool first = offset == 0;
            int h = first ? hlen : laterHlen;
            int length = Math.Min(first ? firstPayload : laterPayload, payload - offset);
            bool more = offset + length < payload || originalMore;
            Mbuf? fragment = MbufPool.GetFor(h + length);
            if (fragment is null)
            {
                Mbuf.FreeChain(head);
                return Fail(m, IpStat.ips_odropped, Errno.ENOBUFS);
            }

            Span<byte> bytes = fragment.Append(h + length);
            if (first)
            {
                packet[..hlen].CopyTo(bytes);
            }
            else
            {
                packet[..IpHeader.MinLength].CopyTo(bytes);
                laterOptions[..laterOptionsLength].CopyTo(bytes[IpHeader.MinLength..]);
                bytes[0] = (byte)(0x40 | (laterHlen >> 2));
            }

            packet.Slice(hlen + offset, length).CopyTo(bytes[h..]);
            var header = new IpHeader(bytes)
            {
                TotalLength = h + length,
                FragmentField = (ushort)(((baseOffset + offset) >> 3) | (more ? IpHeader.FlagMoreFragments : 0)),
            };
            header.UpdateChecksum();
            fragment.Flags = m.Flags;
            fragment.ReceiveInterface = m.ReceiveInterface;
            fragment.Fib = m.Fib;
            if (tail is null)
            {
                head = fragment;
            }
            else
            {
                tail.NextPacket = fragment;
            }

            tail = fragment;
            count++;
            offset += length;
        }

        m.Free();
        Ip.Stat(IpStat.ips_ofragments, count);
        Ip.Stat(IpStat.ips_fragmented);

        int error = 0;
        for (Mbuf? f = head; f is not null;)
        {
            Mbuf? next = f.NextPacket;
            f.NextPacket = null;
            if (error == 0)
            {
                error = send(f);
            }
            else
            {
                f.Free();
            }

            f = next;
        }

        return error;
    }

    /// <summary>ip_optcopy: the options a non-first fragment carries (copied flag set), EOL-padded to 4 bytes. Returns the length.</summary>
    internal static int CopyOptions(ReadOnlySpan<byte> options, Span<byte> destination)
    {
        int written = 0;
        for (int i = 0; i < options.Length;)
        {
            byte type = options[i];
            if (type == IpOptions.EndOfList)
            {
                break;
            }

            if (type == IpOptions.NoOp)
            {
                destination[written++] = IpOptions.NoOp; // kept for LSRR alignment, as FreeBSD does
                i++;
                continue;
            }

            if (i + 1 >= options.Length)
            {
                break;
            }

            int length = options[i + 1];
            if (length < 2 || length > options.Length - i)
            {
                break; // malformed: copy nothing more (ip_dooptions rejects these on input)
            }

            if ((type & 0x80) != 0)
            {
                options.Slice(i, length).CopyTo(destination[written..]);
                written += length;
            }

            i += length;
        }

        while ((written & 3) != 0)
        {
            destination[written++] = IpOptions.EndOfList;
        }

        return written;
    }

    private static int Fail(Mbuf m, IpStat reason, int errno)
    {
        Ip.Stat(reason);
        m.Free();
        return errno;
    }
}
