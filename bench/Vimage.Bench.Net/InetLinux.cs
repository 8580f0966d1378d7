using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Vimage.Bench.Net;

/// <summary>
/// The Linux baseline of the inet mode: network namespaces <c>vbench-ia-PID</c> (192.0.2.1/24 on <c>via PID</c>)
/// and <c>vbench-ib-PID</c> (192.0.2.2/24 on <c>vib PID</c>) joined by a veth pair. Every socket is a
/// System.Net.Sockets.Socket created on a thread that setns(2)-ed into its namespace (a socket stays in the
/// namespace it was created in); the threads using it afterwards are ordinary threads. Ping uses a raw ICMP socket
/// (AF_INET, SOCK_RAW, IPPROTO_ICMP: we are root), the counterpart of PingSocket; the peer's kernel answers.
/// </summary>
internal sealed class InetLinux : IDisposable
{
    private readonly IDisposable _owner;
    private readonly NetnsEnd _a;
    private readonly NetnsEnd _b;
    private readonly IPAddress _addrB;
    private readonly ushort _pingId = (ushort)Random.Shared.Next(1, 0xffff);

    /// <summary>Measures from <paramref name="a"/> to <paramref name="addrB"/> on <paramref name="b"/>; disposing deletes <paramref name="owner"/>.</summary>
    internal InetLinux(IDisposable owner, NetnsEnd a, NetnsEnd b, IPAddress addrB, string description)
    {
        (_owner, _a, _b, _addrB) = (owner, a, b, addrB);
        Description = $"{description}, kernel {NetnsPair.KernelRelease()}";
    }

    public string Description { get; }

    /// <summary>Creates the namespaces and the pair, or returns null with the reason the baseline cannot run.</summary>
    public static InetLinux? TryCreate(out string reason)
    {
        NetnsPair? pair = NetnsPair.TryCreate("vbench-i", "vi", "raw ICMP sockets", null, null, "192.0.2.1/24", "192.0.2.2/24", null, out reason);
        return pair is null ? null : new InetLinux(pair, new NetnsEnd(pair.NsA, pair.IfA), new NetnsEnd(pair.NsB, pair.IfB), IPAddress.Parse("192.0.2.2"),
            $"veth {pair.IfA} 192.0.2.1/24 in netns {pair.NsA} <-> {pair.IfB} 192.0.2.2/24 in netns {pair.NsB}");
    }

    private Socket Open(string ns, SocketType type, ProtocolType protocol) => NetnsPair.InNetns(ns, () => new Socket(AddressFamily.InterNetwork, type, protocol));

    /// <summary>Raw ICMP echo from A to 192.0.2.2 (56 data bytes, as PingSocket's default); Stopwatch around sendto → matching reply.</summary>
    public LatencyResult Ping(int warmup, int count, TimeSpan cap)
    {
        using Socket raw = Open(_a.Ns, SocketType.Raw, ProtocolType.Icmp);
        raw.ReceiveTimeout = 1000;
        SocketAddress to = new IPEndPoint(_addrB, 0).Serialize();
        byte[] request = new byte[8 + 56];
        byte[] reply = new byte[2048];
        bool RoundTrip(int seq)
        {
            var icmp = request.AsSpan();
            icmp.Clear();
            icmp[0] = 8; // echo
            BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], _pingId);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)seq);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], IcmpChecksum(icmp));
            raw.SendTo(icmp, SocketFlags.None, to);
            while (true)
            {
                int n;
                try
                {
                    n = raw.Receive(reply);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    return false;
                }

                int hlen = (reply[0] & 0x0f) * 4; // a raw socket gets the IP header too
                if (n >= hlen + 8 && reply[hlen] == 0 && BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(hlen + 4)) == _pingId
                    && BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(hlen + 6)) == (ushort)seq)
                {
                    return true;
                }
            }
        }

        return InetMeasure.Latency(RoundTrip, warmup, count, cap);
    }

    /// <summary>UDP client socket in A, echo server thread with its socket in B; 64-byte datagrams with a sequence number.</summary>
    public LatencyResult UdpEcho(int warmup, int count, TimeSpan cap)
    {
        using Socket server = Open(_b.Ns, SocketType.Dgram, ProtocolType.Udp);
        using Socket client = Open(_a.Ns, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(IPAddress.Any, InetVimage.EchoPort));
        server.ReceiveTimeout = 100;
        client.ReceiveTimeout = 1000;
        bool stop = false;
        var echo = new Thread(() =>
        {
            byte[] buffer = new byte[2048];
            var from = new SocketAddress(AddressFamily.InterNetwork);
            while (!Volatile.Read(ref stop))
            {
                try
                {
                    int n = server.ReceiveFrom(buffer, SocketFlags.None, from);
                    server.SendTo(buffer.AsSpan(0, n), SocketFlags.None, from);
                }
                catch (SocketException)
                {
                    // timeout: look at the stop flag
                }
            }
        })
        { IsBackground = true, Name = "linux udp echo" };
        echo.Start();
        try
        {
            SocketAddress to = new IPEndPoint(_addrB, InetVimage.EchoPort).Serialize();
            byte[] request = new byte[64];
            byte[] reply = new byte[2048];
            bool RoundTrip(int seq)
            {
                BinaryPrimitives.WriteInt32BigEndian(request, seq);
                client.SendTo(request, SocketFlags.None, to);
                while (true)
                {
                    int n;
                    try
                    {
                        n = client.Receive(reply);
                    }
                    catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
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

    /// <summary>Datagrams/s from a UDP socket in A to one in B (SO_RCVBUF <paramref name="rcvbuf"/>), 64-byte payload.</summary>
    public RateResult Rate(bool paced, int rcvbuf, TimeSpan warmup, TimeSpan measure)
    {
        using Socket rx = Open(_b.Ns, SocketType.Dgram, ProtocolType.Udp);
        using Socket tx = Open(_a.Ns, SocketType.Dgram, ProtocolType.Udp);
        rx.ReceiveBufferSize = rcvbuf; // setsockopt(SO_RCVBUF); the kernel doubles it for its bookkeeping
        rx.ReceiveTimeout = 100;
        rx.Bind(new IPEndPoint(IPAddress.Any, InetVimage.SinkPort));
        tx.Bind(new IPEndPoint(IPAddress.Any, 0));
        SocketAddress to = new IPEndPoint(_addrB, InetVimage.SinkPort).Serialize();
        byte[] payload = new byte[64];
        byte[] buffer = new byte[2048];
        bool Send()
        {
            try
            {
                tx.SendTo(payload, SocketFlags.None, to);
                return true;
            }
            catch (SocketException)
            {
                return false; // ENOBUFS and the like
            }
        }

        bool Receive()
        {
            try
            {
                rx.Receive(buffer);
                return true;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                return false;
            }
        }

        long[] Drops() =>
        [
            SnmpUdp(_b.Ns, "RcvbufErrors"),
            DevCounter(_a.Ns, _a.If, 11), // veth TX drops: the peer's backlog (netdev_max_backlog) was full
            DevCounter(_b.Ns, _b.If, 3),
        ];

        return InetMeasure.Rate(Send, Receive, Drops, ["Udp RcvbufErrors", "veth TX drop", "veth RX drop"], paced, warmup, measure);
    }

    /// <summary>A field of the Udp: line of /proc/thread-self/net/snmp as seen from inside <paramref name="ns"/>.</summary>
    private static long SnmpUdp(string ns, string field)
    {
        string[] lines = NetnsPair.InNetns(ns, () => File.ReadAllLines("/proc/thread-self/net/snmp"));
        string[][] udp = lines.Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        int i = Array.IndexOf(udp[0], field);
        return i > 0 && udp.Length > 1 ? long.Parse(udp[1][i], CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Column <paramref name="index"/> (0 = rx bytes) of <paramref name="ifname"/> in /proc/net/dev inside <paramref name="ns"/>.</summary>
    private static long DevCounter(string ns, string ifname, int index)
    {
        string[] lines = NetnsPair.InNetns(ns, () => File.ReadAllLines("/proc/thread-self/net/dev"));
        string? line = lines.FirstOrDefault(l => l.TrimStart().StartsWith(ifname + ":", StringComparison.Ordinal));
        if (line is null)
        {
            return 0;
        }

        string[] fields = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return index < fields.Length ? long.Parse(fields[index], CultureInfo.InvariantCulture) : 0;
    }

    private static ushort IcmpChecksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    /// <summary>Deletes both namespaces (which destroys the veth pair). Idempotent; also runs at process exit and Ctrl+C.</summary>
    public void Dispose() => _owner.Dispose();
}

/// <summary>A measuring end on the Linux side: a network namespace and the interface traffic leaves or arrives on.</summary>
internal sealed record NetnsEnd(string Ns, string If);
