using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Bench.Net;

/// <summary>
/// The Vimage side of the inet mode: vnets <c>vinet-a</c> (192.0.2.1/24) and <c>vinet-b</c> (192.0.2.2/24) joined
/// by one epair, as tests/Vimage.Net.Tests/Topology.cs builds them. Without VIMAGE both addresses are in vnet0,
/// so the traffic goes through lo0 instead of the epair.
/// </summary>
internal sealed class InetVimage : IDisposable
{
    public const ushort EchoPort = 7007;
    public const ushort SinkPort = 9009;
    private static readonly InAddr AddrA = InAddr.Parse("192.0.2.1");
    private readonly InAddr _addrB = InAddr.Parse("192.0.2.2");
    private readonly Vnet _va;
    private readonly Vnet _vb;
    private readonly Ifnet _a;
    private readonly Ifnet _b;
    private readonly Action? _destroy;

    public InetVimage()
    {
        (_va, _vb) = VnetPair.Create("vinet-a", "vinet-b");
        (_a, _b) = VnetPair.Epair(_va, _vb, a => InAddrs.Add(a, AddrA, 24), b => InAddrs.Add(b, _addrB, 24));

        // FreeBSD (and Vimage) limit echo replies to icmplim a second (BANDLIM_ICMP_ECHO); Linux's default
        // icmp_ratemask does not limit them. Lift the limit in the responder so both sides answer every ping.
        Sysctl.Set("net.inet.icmp.icmplim", "0", _vb);
        Description = _va != _vb
            ? $"{_a.Name} 192.0.2.1/24 in vnet {_va.Name} <-> {_b.Name} 192.0.2.2/24 in vnet {_vb.Name}"
            : $"{_a.Name} 192.0.2.1/24 and {_b.Name} 192.0.2.2/24 both in vnet0 (non-VIMAGE build: traffic goes through lo0)";
    }

    /// <summary>Measures between ends built by someone else (the chain): <paramref name="destroy"/> tears them down.</summary>
    internal InetVimage(Vnet va, Ifnet a, Vnet vb, Ifnet b, InAddr addrB, string description, Action destroy)
    {
        (_va, _a, _vb, _b, _addrB, Description, _destroy) = (va, a, vb, b, addrB, description, destroy);
        Sysctl.Set("net.inet.icmp.icmplim", "0", _vb);
    }

    public string Description { get; }

    /// <summary>PingSocket in A to 192.0.2.2: Stopwatch around Send → TryReceive; details give reply.Rtt too.</summary>
    public LatencyResult Ping(int warmup, int count, TimeSpan cap)
    {
        using PingSocket ping = PingSocket.Open(_va);
        var rtts = new List<double>(count + warmup);
        bool RoundTrip(int seq)
        {
            if (ping.Send(_addrB, (ushort)seq) != 0)
            {
                return false;
            }

            while (ping.TryReceive(1000, out PingReply reply))
            {
                if (reply.Kind == PingReplyKind.EchoReply && reply.Sequence == (ushort)seq)
                {
                    rtts.Add(reply.Rtt.TotalMicroseconds);
                    return true;
                }
            }

            return false;
        }

        return InetMeasure.Latency(RoundTrip, warmup, count, cap, () =>
        {
            double[] sorted = rtts.Skip(warmup).Order().ToArray();
            return sorted.Length == 0 ? "" : $"PingReply.Rtt (timestamp in the request, read by the listener in the receive path) median {InetMeasure.Us(sorted[sorted.Length / 2])}, replies dropped by the socket queue {ping.Dropped}";
        });
    }

    /// <summary>UdpSocket client in A, echo server thread in B; 64-byte datagrams carrying a sequence number.</summary>
    public LatencyResult UdpEcho(int warmup, int count, TimeSpan cap)
    {
        using UdpSocket server = UdpSocket.Create(_vb);
        using UdpSocket client = UdpSocket.Create(_va);
        server.Bind(InAddr.Any, EchoPort);
        bool stop = false;
        var echo = new Thread(() =>
        {
            byte[] buffer = new byte[2048];
            while (!Volatile.Read(ref stop))
            {
                try
                {
                    int n = server.ReceiveFrom(buffer, out InAddr from, out ushort port, 100);
                    server.SendTo(buffer.AsSpan(0, n), from, port);
                }
                catch (NetSocketException e) when (e.Errno == NetSocketException.EAGAIN)
                {
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        })
        { IsBackground = true, Name = "vimage udp echo" };
        echo.Start();
        try
        {
            byte[] request = new byte[64];
            byte[] reply = new byte[2048];
            bool RoundTrip(int seq)
            {
                BinaryPrimitives.WriteInt32BigEndian(request, seq);
                client.SendTo(request, _addrB, EchoPort);
                while (true)
                {
                    int n;
                    try
                    {
                        n = client.ReceiveFrom(reply, out _, out _, 1000);
                    }
                    catch (NetSocketException e) when (e.Errno == NetSocketException.EAGAIN)
                    {
                        return false;
                    }

                    if (n == request.Length && BinaryPrimitives.ReadInt32BigEndian(reply) == seq)
                    {
                        return true;
                    }
                }
            }

            return InetMeasure.Latency(RoundTrip, warmup, count, cap);
        }
        finally
        {
            Volatile.Write(ref stop, true);
            echo.Join();
        }
    }

    /// <summary>Datagrams/s from a UdpSocket in A to one in B (SO_RCVBUF <paramref name="rcvbuf"/>), 64-byte payload.</summary>
    public RateResult Rate(bool paced, int rcvbuf, TimeSpan warmup, TimeSpan measure)
    {
        using UdpSocket rx = UdpSocket.Create(_vb);
        using UdpSocket tx = UdpSocket.Create(_va);
        rx.ReceiveBufferSize = rcvbuf;
        rx.Bind(InAddr.Any, SinkPort);
        tx.Bind(InAddr.Any, 0);
        byte[] payload = new byte[64];
        byte[] buffer = new byte[2048];
        bool Send()
        {
            try
            {
                tx.SendTo(payload, _addrB, SinkPort);
                return true;
            }
            catch (NetSocketException)
            {
                return false; // ENOBUFS (empty mbuf pool) and the like
            }
        }

        bool Receive()
        {
            try
            {
                rx.ReceiveFrom(buffer, out _, out _, 100);
                return true;
            }
            catch (NetSocketException e) when (e.Errno == NetSocketException.EAGAIN)
            {
                return false;
            }
        }

        long[] Drops() =>
        [
            Udp.Fetch(_vb, UdpStat.udps_fullsock),
            _a.Counter(IfCounter.IFCOUNTER_OQDROPS) + _a.Counter(IfCounter.IFCOUNTER_OERRORS),
            _b.Counter(IfCounter.IFCOUNTER_IQDROPS) + _b.Counter(IfCounter.IFCOUNTER_IERRORS),
        ];

        return InetMeasure.Rate(Send, Receive, Drops, ["udps_fullsock", "epair TX OQDROPS+OERRORS", "epair RX IQDROPS+IERRORS"],
            paced, warmup, measure);
    }

    public void Dispose()
    {
        if (_destroy is not null)
        {
            _destroy();
            return;
        }

        if (!_a.IsDetached && _va.State == VnetState.Live)
        {
            using (Curvnet.Set(_va))
            {
                Ifnets.Destroy(_a.Name); // both ends go; b returns from its loan first
            }
        }

        VnetPair.Destroy(_va, _vb);
    }
}
