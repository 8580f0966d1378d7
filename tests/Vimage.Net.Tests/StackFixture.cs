using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>
/// Two hosts for transport tests: vnets A and B joined by an epair (192.0.2.1/24 in A, 192.0.2.2/24 in B). Built
/// without VIMAGE both "hosts" are vnet0 with the epair's two ends in it (a fresh 10.201.N.0/24 per fixture), so
/// traffic between the addresses loops through lo0 while hand-made frames still cross the epair.
/// </summary>
internal sealed class StackFixture : IDisposable
{
    private static int s_subnet;
    private readonly List<Vnet> _vnets = [];
    private readonly object? _savedIcmplim;

    private StackFixture(string name, Vimage.Net.Iflib.IflibQueueConfig? epair)
    {
        if (Vnet.IsVimage)
        {
            A = Vnet.Create($"{name}-a");
            _vnets.Add(A);
            B = Vnet.Create($"{name}-b");
            _vnets.Add(B);
            AddrA = InAddr.Parse("192.0.2.1");
            AddrB = InAddr.Parse("192.0.2.2");
        }
        else
        {
            A = B = Vnet.Vnet0;

            // Every fixture shares vnet0 here, and with it the ICMP rate limit (icmplim, 200/s): errors earlier
            // tests generated in the same second must not suppress this test's. Restored on Dispose.
            _savedIcmplim = Sysctl.Get("net.inet.icmp.icmplim", Vnet.Vnet0);
            Sysctl.Set("net.inet.icmp.icmplim", 0, Vnet.Vnet0);
            int n = Interlocked.Increment(ref s_subnet) % 250;
            AddrA = InAddr.Parse($"10.201.{n}.1");
            AddrB = InAddr.Parse($"10.201.{n}.2");
        }

        using (Curvnet.Set(A))
        {
            IReadOnlyList<Ifnet> pair = epair is null ? Ifnets.Create("epair") : Vimage.Net.Epair.EpairCloner.CreateWith(epair);
            (IfA, IfB) = (pair[0], pair[1]);
            if (B != A)
            {
                Ifnets.Loan(IfB.Name, B);
            }

            IfA.SetUp(true);
            InAddrs.Add(IfA, AddrA, 24);
        }

        using (Curvnet.Set(B))
        {
            IfB.SetUp(true);
            InAddrs.Add(IfB, AddrB, 24);
        }
    }

    public Vnet A { get; }

    public Vnet B { get; }

    public Ifnet IfA { get; }

    public Ifnet IfB { get; }

    public InAddr AddrA { get; }

    public InAddr AddrB { get; }

    /// <summary>The subnet broadcast of the link.</summary>
    public InAddr Broadcast => new(AddrA.Value | 0xff);

    public bool TwoVnets => A != B;

    /// <summary>Where A's datagrams to B leave: the epair, or lo0 when both addresses are in vnet0.</summary>
    public Ifnet OutboundA => TwoVnets ? IfA : In(A, () => Ifnets.Find("lo0"));

    /// <summary>Whether <see cref="OutboundA"/> frames start with an Ethernet header.</summary>
    public bool OutboundIsEthernet => TwoVnets;

    public static StackFixture Create(string name) => new(name, null);

    /// <summary>The two hosts over an epair with its own queue configuration (a tiny ring, to fill it).</summary>
    public static StackFixture Create(string name, Vimage.Net.Iflib.IflibQueueConfig epair) => new(name, epair);

    public static T In<T>(Vnet v, Func<T> body)
    {
        using (Curvnet.Set(v))
        {
            return body();
        }
    }

    public static long FetchUdp(Vnet v, UdpStat field) => Udp.Fetch(v, field);

    public long IcmpOut(Vnet v, byte type) => In(v, () => Icmp.FetchOutHist(type));

    /// <summary>A UDP segment from AddrA:<paramref name="sport"/> to AddrB:<paramref name="dport"/> with a correct checksum.</summary>
    public byte[] UdpSegment(ushort sport, ushort dport, ReadOnlySpan<byte> payload)
    {
        byte[] seg = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(seg, sport);
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(4), (ushort)seg.Length);
        payload.CopyTo(seg.AsSpan(8));
        ushort sum = Checksum.Finish(Checksum.Sum(seg, Checksum.PseudoHeader(AddrA, AddrB, IpProto.Udp, seg.Length)));
        BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(6), sum == 0 ? (ushort)0xffff : sum);
        return seg;
    }

    /// <summary>An Ethernet frame from IfA to IfB carrying <paramref name="ipPayload"/> as UDP from AddrA to AddrB (valid IP header).</summary>
    public byte[] Frame(ReadOnlySpan<byte> ipPayload)
    {
        byte[] f = new byte[14 + 20 + ipPayload.Length];
        IfB.Lladdr.CopyTo(f, 0);
        IfA.Lladdr.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        IpHeader.Write(f.AsSpan(14, 20), 20 + ipPayload.Length, 0x4242, 0, 64, IpProto.Udp, AddrA, AddrB);
        ipPayload.CopyTo(f.AsSpan(34));
        return f;
    }

    /// <summary>Sends a hand-made frame out of IfA (it arrives on IfB, in B).</summary>
    public void Inject(byte[] frame)
    {
        using (Curvnet.Set(A))
        {
            Assert.True(Frames.Send(IfA, frame));
        }
    }

    public void Dispose()
    {
        foreach (Vnet v in Enumerable.Reverse(_vnets))
        {
            if (v.State == VnetState.Live)
            {
                v.Destroy(); // the epair goes with A, its home
            }
        }

        if (!TwoVnets && !IfA.IsDetached)
        {
            using (Curvnet.Set(Vnet.Vnet0))
            {
                Ifnets.Destroy(IfA.Name);
            }
        }

        if (_savedIcmplim is not null)
        {
            Sysctl.Set("net.inet.icmp.icmplim", _savedIcmplim, Vnet.Vnet0);
        }
    }
}
