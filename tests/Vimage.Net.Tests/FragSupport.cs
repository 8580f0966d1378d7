using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>Hand-built IPv4 fragments for the reassembly tests.</summary>
internal static class FragSupport
{
    public static long Ipstat(Vnet v, IpStat field)
    {
        using (Curvnet.Set(v))
        {
            return Ip.Fetch(field);
        }
    }

    public static T In<T>(Vnet v, Func<T> read)
    {
        using (Curvnet.Set(v))
        {
            return read();
        }
    }

    /// <summary>An IPv4 fragment (header of 20 + <paramref name="options"/> bytes, checksum set) carrying <paramref name="payload"/>.</summary>
    public static byte[] Packet(InAddr src, InAddr dst, ushort id, byte protocol, int offset, bool more, ReadOnlySpan<byte> payload,
        ReadOnlySpan<byte> options = default, int? totalLengthOverride = null)
    {
        int hlen = 20 + options.Length;
        byte[] p = new byte[hlen + payload.Length];
        IpHeader.Write(p, totalLengthOverride ?? p.Length, id, (ushort)((offset >> 3) | (more ? IpHeader.FlagMoreFragments : 0)), 64, protocol, src, dst);
        p[0] = (byte)(0x40 | (hlen >> 2));
        options.CopyTo(p.AsSpan(20));
        payload.CopyTo(p.AsSpan(hlen));
        new IpHeader(p).UpdateChecksum();
        return p;
    }

    /// <summary>The IP packet inside an Ethernet frame from <paramref name="srcMac"/> to <paramref name="dstMac"/>.</summary>
    public static byte[] EtherFrame(byte[] dstMac, byte[] srcMac, byte[] ipPacket)
    {
        byte[] f = new byte[14 + ipPacket.Length];
        dstMac.CopyTo(f, 0);
        srcMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        ipPacket.CopyTo(f, 14);
        return f;
    }

    /// <summary>An ICMP echo request (checksum over the whole message) for hand-made fragments.</summary>
    public static byte[] Echo(ushort identifier, ushort sequence, int dataLength)
    {
        byte[] icmp = new byte[8 + dataLength];
        icmp[0] = IcmpType.Echo;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), sequence);
        for (int i = 8; i < icmp.Length; i++)
        {
            icmp[i] = (byte)(i * 7);
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Checksum.Compute(icmp));
        return icmp;
    }

    /// <summary>A pooled mbuf holding <paramref name="packet"/> (direct IpReass calls).</summary>
    public static Mbuf Mbuf(ReadOnlySpan<byte> packet)
    {
        Mbuf m = MbufPool.GetFor(packet.Length)!;
        Assert.True(m.SetData(packet));
        return m;
    }

    /// <summary>Parses the IPv4 packets of captured Ethernet frames.</summary>
    public static (int TotalLength, int Offset, bool More, int HeaderLength, ushort Id) ParseIp(ReadOnlySpan<byte> frame)
    {
        ReadOnlySpan<byte> ip = frame[14..];
        ushort field = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        return (BinaryPrimitives.ReadUInt16BigEndian(ip[2..]), (field & 0x1fff) * 8, (field & 0x2000) != 0, (ip[0] & 0xf) * 4,
            BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
    }
}
