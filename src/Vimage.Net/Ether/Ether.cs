using System.Buffers.Binary;
using Vimage.Net.Netisr;

namespace Vimage.Net.Ether;

/// <summary>
/// A family's link-layer resolution for ether_output (arpresolve for AF_INET, nd6_resolve for AF_INET6): fills
/// <paramref name="mac"/> with the next hop's station address. Returns 0, an errno (the mbuf freed), or
/// <see cref="EtherLayer.Held"/> (the resolver keeps the mbuf until the answer comes).
/// </summary>
public delegate int EtherResolver(Ifnet ifp, Mbuf m, in Sockaddr dst, Span<byte> mac);

/// <summary>
/// Ethernet framing (net/if_ethersubr.c): ether_input demultiplexes by ethertype through a registration table
/// (each network protocol registers its ethertype and netisr number), ether_output asks the destination family's
/// registered resolver for the station address. Nothing here names a network protocol.
/// </summary>
public static class EtherLayer
{
    public const int HeaderLength = 14;
    public const ushort TypeIp = 0x0800;
    public const ushort TypeArp = 0x0806;
    public const ushort TypeIpv6 = 0x86dd;

    /// <summary>A resolver's answer for "held until resolved" (EWOULDBLOCK in arpresolve's contract).</summary>
    public const int Held = -1;

    public static readonly byte[] BroadcastMac = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    // ethertype -> netisr protocol number (0: none). 64 KiB so the demux is one load, no hashing.
    private static readonly byte[] NetisrByType = new byte[65536];

    // sa_family -> how that family leaves over Ethernet.
    private static readonly EtherFamily?[] Families = new EtherFamily?[256];

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
        IfFlags flags = ifp.Flags;
        if ((flags & IfFlags.IFF_MONITOR) != 0 || ((flags & IfFlags.IFF_NOARP) != 0 && type == TypeArp))
        {
            // ether_input_internal: a monitoring interface stops after bpf; ether_demux: ARP is discarded
            // when the interface has ARP disabled.
            m.Free();
            return;
        }

        m.Adjust(HeaderLength);
        NetisrTable.Dispatch(Volatile.Read(ref NetisrByType[type]), ifp, m); // ether_demux; 0 (unregistered) counts ifi_noproto
    }

    /// <summary>
    /// ether_output: the family's resolver fills in the destination station (ARP for AF_INET; it may hold the
    /// packet until the answer comes), then the header goes on and the frame is transmitted. Returns 0 or an errno
    /// (ENOBUFS from a full driver queue; the mbuf is consumed either way).
    /// </summary>
    public static int Output(Ifnet ifp, Mbuf m, in Sockaddr dst)
    {
        EtherFamily? family = Volatile.Read(ref Families[(byte)dst.Family]);
        if (family is null)
        {
            ifp.Count(IfCounter.IFCOUNTER_OERRORS);
            m.Free();
            return Errno.EAFNOSUPPORT; // FreeBSD's ether_output default case
        }

        if ((ifp.Flags & IfFlags.IFF_MONITOR) != 0)
        {
            m.Free();
            return Errno.ENETDOWN; // ether_output: a monitoring interface sends nothing
        }

        Span<byte> mac = stackalloc byte[6];
        int error = family.Resolve(ifp, m, in dst, mac);
        if (error != 0)
        {
            return error == Held ? 0 : error;
        }

        Prepend(ifp, m, mac, family.EtherType);
        return ifp.Transmit(m); // ether_output_frame: if_transmit's errno (ENOBUFS) goes back to the protocol
    }

    /// <summary>Registers the netisr protocol that receives frames of <paramref name="ethertype"/> (ether_demux's table).</summary>
    public static void RegisterType(ushort ethertype, int netisrProto)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(netisrProto);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(netisrProto, NetisrProto.NETISR_MAXPROT);
        Volatile.Write(ref NetisrByType[ethertype], (byte)netisrProto);
    }

    /// <summary>Registers how packets of <paramref name="family"/> leave over Ethernet: their ethertype and link-layer resolver.</summary>
    public static void RegisterFamily(SaFamily family, ushort ethertype, EtherResolver resolve)
    {
        ArgumentNullException.ThrowIfNull(resolve);
        Volatile.Write(ref Families[(byte)family], new EtherFamily(ethertype, resolve));
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

/// <summary>What ether_output needs to know about one address family.</summary>
internal sealed record EtherFamily(ushort EtherType, EtherResolver Resolve);
