using System.Buffers.Binary;
using System.Collections.Concurrent;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>Builds vnets joined by epairs with addresses, like FreeBSD's vnet.subr does with jails.</summary>
internal sealed class Topology : IDisposable
{
    private readonly List<Vnet> _vnets = [];
    private readonly List<Ifnet> _epairs = [];

    public Vnet NewVnet(string name)
    {
        Vnet v = Vnet.Create(name);
        _vnets.Add(v);
        return v;
    }

    /// <summary>vnet_mkepair + vnet_mkjail: end a in <paramref name="left"/> with <paramref name="leftAddress"/>, end b in <paramref name="right"/>.</summary>
    public (Ifnet A, Ifnet B) Link(Vnet left, string leftAddress, Vnet right, string rightAddress)
    {
        Ifnet a, b;
        using (Curvnet.Set(left))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (a, b) = (pair[0], pair[1]);
            _epairs.Add(a);
            if (right != left)
            {
                Ifnets.Loan(b.Name, right);
            }

            a.SetUp(true);
            Configure(a, leftAddress);
        }

        using (Curvnet.Set(right))
        {
            b.SetUp(true);
            Configure(b, rightAddress);
        }

        return (a, b);
    }

    public static void Configure(Ifnet ifp, string prefix)
    {
        Assert.True(InAddr.TryParsePrefix(prefix, out InAddr address, out int length));
        InAddrs.Add(ifp, address, length);
    }

    public void Dispose()
    {
        foreach (Vnet v in _vnets)
        {
            if (v.State == VnetState.Live)
            {
                v.Destroy();
            }
        }

        foreach (Ifnet a in _epairs.Where(e => !e.IsDetached))
        {
            using (Curvnet.Set(a.HomeVnet))
            {
                Ifnets.DestroyCloned(a);
            }
        }
    }
}

/// <summary>A minimal ICMP echo client for tests (ping(8) itself lives in the stack as PingSocket).</summary>
internal sealed class EchoProbe : IDisposable
{
    private readonly Vnet _vnet;
    private readonly ushort _id = (ushort)Random.Shared.Next(1, 65535);
    private readonly IcmpHandler _handler;

    public EchoProbe(Vnet vnet)
    {
        _vnet = vnet;
        _handler = OnIcmp;
        using (Curvnet.Set(vnet))
        {
            IcmpListeners.Add(_handler);
        }
    }

    public ConcurrentQueue<(byte Type, byte Code, InAddr From, ushort Sequence, byte Ttl)> Received { get; } = new();

    public int Send(string destination, ushort sequence, byte ttl = 0)
    {
        using (Curvnet.Set(_vnet))
        {
            Mbuf m = MbufPool.Clusters.Get()!;
            Span<byte> icmp = m.Append(16);
            icmp.Clear();
            icmp[0] = IcmpType.Echo;
            BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], _id);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
            return IpOutput.Send(m, InAddr.Any, InAddr.Parse(destination), IpProto.Icmp, new IpOutputOptions(Ttl: ttl));
        }
    }

    public bool WaitFor(int count, int timeoutMs = 5000) => Frames.WaitFor(() => Received.Count >= count, timeoutMs);

    private bool OnIcmp(Mbuf m, int hlen)
    {
        ReadOnlySpan<byte> p = m.Data;
        var ip = new IpHeader(m.Data);
        ReadOnlySpan<byte> icmp = p[hlen..];
        ushort id, seq;
        if (icmp[0] == IcmpType.EchoReply)
        {
            (id, seq) = (BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]), BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]));
        }
        else if (icmp.Length >= 8 + 20 + 8)
        {
            ReadOnlySpan<byte> quoted = icmp[8..];
            int qhlen = (quoted[0] & 0xf) * 4;
            if (quoted[9] != IpProto.Icmp || quoted.Length < qhlen + 8)
            {
                return false;
            }

            (id, seq) = (BinaryPrimitives.ReadUInt16BigEndian(quoted[(qhlen + 4)..]), BinaryPrimitives.ReadUInt16BigEndian(quoted[(qhlen + 6)..]));
        }
        else
        {
            return false;
        }

        if (id != _id)
        {
            return false;
        }

        Received.Enqueue((icmp[0], icmp[1], ip.Source, seq, ip.Ttl));
        m.Free();
        return true;
    }

    public void Dispose()
    {
        if (_vnet.State == VnetState.Live)
        {
            using (Curvnet.Set(_vnet))
            {
                IcmpListeners.Remove(_handler);
            }
        }
    }
}
