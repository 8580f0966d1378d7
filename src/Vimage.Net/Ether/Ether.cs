using System.Buffers.Binary;
using Vimage.Net.Arp;
using Vimage.Net.Inet;

namespace Vimage.Net.Ether;

/// <summary>Ethernet framing (net/if_ethersubr.c): ether_input and ether_output.</summary>
public static class EtherLayer
{
    public const int HeaderLength = 14;
    public const ushort TypeIp = 0x0800;
    public const ushort TypeArp = 0x0806;
    public static readonly byte[] BroadcastMac = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    /// <summary>ether_input: checks the destination, strips the header and dispatches by ethertype.</summary>
    public static void Input(Ifnet ifp, Mbuf m)
    {
        Span<byte> frame = m.Data;
        if (frame.Length < HeaderLength)
        {
            ifp.Count(IfCounter.IFCOUNTER_IERRORS);
            m.Free();
            return;
        }

        ReadOnlySpan<byte> dst = frame[..6];
        ReadOnlySpan<byte> src = frame.Slice(6, 6);
        if (src.SequenceEqual(ifp.Lladdr))
        {
            ifp.Count(IfCounter.IFCOUNTER_IQDROPS); // our own frame looped back (IFF_SIMPLEX)
            m.Free();
            return;
        }

        if ((dst[0] & 1) != 0)
        {
            m.Flags |= dst.SequenceEqual(BroadcastMac) ? MbufFlags.Broadcast : MbufFlags.Multicast;
        }
        else if (!dst.SequenceEqual(ifp.Lladdr) && (ifp.Flags & IfFlags.IFF_PROMISC) == 0)
        {
            ifp.Count(IfCounter.IFCOUNTER_IQDROPS); // unicast for another station
            m.Free();
            return;
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        m.Adjust(HeaderLength);
        switch (type)
        {
            case TypeIp:
                IpInput.Input(ifp, m);
                break;
            case TypeArp:
                ArpLayer.Input(ifp, m);
                break;
            default:
                ifp.Count(IfCounter.IFCOUNTER_NOPROTO);
                m.Free();
                break;
        }
    }

    /// <summary>
    /// ether_output for IPv4: resolves the next hop (broadcast, or ARP; the packet may wait in ARP's hold queue),
    /// prepends the header and transmits. Returns 0 or an errno (the mbuf is consumed either way).
    /// </summary>
    public static int OutputIp(Ifnet ifp, Mbuf m, InAddr nextHop, bool broadcast)
    {
        if (ifp.Type == IfType.IFT_LOOP)
        {
            ifp.Transmit(m);
            return 0;
        }

        Span<byte> mac = stackalloc byte[6];
        if (broadcast || nextHop.IsBroadcast)
        {
            BroadcastMac.CopyTo(mac);
            m.Flags |= MbufFlags.Broadcast;
        }
        else if (nextHop.IsMulticast)
        {
            // RFC 1112: 01:00:5e + low 23 bits of the group.
            mac[0] = 0x01;
            mac[1] = 0x00;
            mac[2] = 0x5e;
            mac[3] = (byte)((nextHop.Value >> 16) & 0x7f);
            mac[4] = (byte)(nextHop.Value >> 8);
            mac[5] = (byte)nextHop.Value;
            m.Flags |= MbufFlags.Multicast;
        }
        else
        {
            // is_gw: the next hop is a router, not the destination itself (arpresolve's EHOSTUNREACH vs EHOSTDOWN).
            bool gateway = m.Length >= IpHeader.MinLength && new IpHeader(m.Data).Destination != nextHop;
            int error = ArpLayer.Resolve(ifp, m, nextHop, mac, gateway);
            if (error != 0)
            {
                return error == ArpLayer.Held ? 0 : error;
            }
        }

        Prepend(ifp, m, mac, TypeIp);
        ifp.Transmit(m);
        return 0;
    }

    /// <summary>Prepends an Ethernet header from <paramref name="ifp"/> to <paramref name="dst"/>.</summary>
    public static void Prepend(Ifnet ifp, Mbuf m, ReadOnlySpan<byte> dst, ushort type)
    {
        Span<byte> header = m.Prepend(HeaderLength);
        dst.CopyTo(header);
        ifp.Lladdr.CopyTo(header[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[12..], type);
    }
}
