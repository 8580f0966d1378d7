using System.Diagnostics;
using System.Globalization;

namespace Vimage.Bench.Net;

/// <summary>
/// The Linux baseline: a veth pair between two network namespaces this process creates (and always deletes),
/// moving the same frames with AF_PACKET raw sockets. Sockets are opened on a thread that setns(2)-ed into the
/// namespace; a socket stays in the namespace it was created in, so senders and receivers then run anywhere.
/// There are as many receivers as senders (Vimage has one RX worker per queue): with two, the receiving sockets
/// share the frames through a PACKET_FANOUT_HASH group (by flow hash, as RSS spreads flows over RX queues), each
/// socket read by its own thread.
/// </summary>
internal sealed unsafe class VethBaseline : IDisposable
{
    private static readonly byte[] MacA = [0x02, 0x76, 0x62, 0x00, 0x00, 0x0a];
    private static readonly byte[] MacB = [0x02, 0x76, 0x62, 0x00, 0x00, 0x0b];
    private readonly NetnsPair _pair;
    private readonly int _ifindexA;
    private readonly int _ifindexB;
    private int _fanoutGroup = Environment.ProcessId & 0x7fff;

    private VethBaseline(NetnsPair pair, int ifindexA, int ifindexB)
    {
        _pair = pair;
        _ifindexA = ifindexA;
        _ifindexB = ifindexB;
    }

    public string Description => $"veth {_pair.IfA} in netns {_pair.NsA} <-> {_pair.IfB} in netns {_pair.NsB}, AF_PACKET raw sockets, kernel {NetnsPair.KernelRelease()}";

    /// <summary>Creates the namespaces and the pair, or returns null with the reason the baseline cannot run.</summary>
    public static VethBaseline? TryCreate(out string reason)
    {
        int ifindexA = 0, ifindexB = 0;
        NetnsPair? pair = NetnsPair.TryCreate("vbench-", "vb", "AF_PACKET sockets", Mac(MacA), Mac(MacB), null, null, p =>
        {
            ifindexA = NetnsPair.InNetns(p.NsA, () => (int)Native.IfNameToIndex(p.IfA));
            ifindexB = NetnsPair.InNetns(p.NsB, () => (int)Native.IfNameToIndex(p.IfB));
            if (ifindexA == 0 || ifindexB == 0)
            {
                throw new InvalidOperationException($"if_nametoindex failed for {p.IfA}/{p.IfB}");
            }
        }, out reason);
        return pair is null ? null : new VethBaseline(pair, ifindexA, ifindexB);
    }

    /// <summary>One run with <paramref name="senders"/> sender threads (one socket each) and as many receivers.</summary>
    public RunResult Run(int frameSize, int senders, TimeSpan warmup, TimeSpan measure)
    {
        int group = ++_fanoutGroup & 0xffff; // a new group per run: the previous run's sockets are closed
        var rx = new int[senders];
        for (int r = 0; r < senders; r++)
        {
            rx[r] = NetnsPair.InNetns(_pair.NsB, () => OpenSocket(_ifindexB, Native.ETH_P_ALL, receive: true, senders > 1 ? group : -1));
        }

        var tx = new int[senders];
        for (int t = 0; t < senders; t++)
        {
            tx[t] = NetnsPair.InNetns(_pair.NsA, () => OpenSocket(_ifindexA, 0, receive: false));
        }

        try
        {
            byte[][][] frames = BenchFrames.PerSender(MacB, MacA, senders, 16, frameSize);
            var offered = new PaddedLong[senders];
            var errors = new PaddedLong[senders];
            var received = new PaddedLong[senders];
            bool stop = false;
            var threads = new List<Thread>();
            for (int t = 0; t < senders; t++)
            {
                int id = t;
                threads.Add(new Thread(() => SendLoop(tx[id], frames[id], ref offered[id].Value, ref errors[id].Value, ref stop))
                { IsBackground = true, Name = $"veth sender {id}" });
            }

            for (int r = 0; r < senders; r++)
            {
                int id = r;
                threads.Add(new Thread(() => ReceiveLoop(rx[id], ref received[id].Value, ref stop)) { IsBackground = true, Name = $"veth receiver {id}" });
            }

            foreach (Thread thread in threads)
            {
                thread.Start();
            }

            Thread.Sleep(warmup);
            _ = SocketDrops(rx); // PACKET_STATISTICS resets on read: start the window at zero
            long[] perReceiver0 = Enumerable.Range(0, senders).Select(r => Volatile.Read(ref received[r].Value)).ToArray();
            long delivered0 = perReceiver0.Sum();
            long offered0 = Sum(offered);
            long errors0 = Sum(errors);
            var window = Stopwatch.StartNew();
            Thread.Sleep(measure);
            double seconds = window.Elapsed.TotalSeconds;
            long[] perReceiver1 = Enumerable.Range(0, senders).Select(r => Volatile.Read(ref received[r].Value)).ToArray();
            long delivered1 = perReceiver1.Sum();
            long offered1 = Sum(offered);
            long errors1 = Sum(errors);
            long socketDrops = SocketDrops(rx);
            Volatile.Write(ref stop, true);
            foreach (Thread thread in threads)
            {
                thread.Join();
            }

            long sendErrors = errors1 - errors0;
            string details = string.Create(CultureInfo.InvariantCulture,
                $"offered {offered1 - offered0:N0}, send() ENOBUFS (dropped at the peer's backlog) {sendErrors:N0}, receiving socket drops {socketDrops:N0}, received per socket {string.Join("/", perReceiver1.Zip(perReceiver0, (b, a) => (b - a).ToString("N0", CultureInfo.InvariantCulture)))}");
            return new RunResult(delivered1 - delivered0, offered1 - offered0, sendErrors + socketDrops, seconds, 0, 0, details);
        }
        finally
        {
            foreach (int fd in rx)
            {
                Native.Close(fd);
            }

            foreach (int fd in tx)
            {
                Native.Close(fd);
            }
        }
    }

    private static void SendLoop(int fd, byte[][] frames, ref long offered, ref long errors, ref bool stop)
    {
        int mask = frames.Length - 1;
        int i = 0;
        long sent = 0, failed = 0;
        while (!Volatile.Read(ref stop))
        {
            for (int k = 0; k < 64; k++)
            {
                byte[] frame = frames[i++ & mask];
                nint n;
                fixed (byte* p = frame)
                {
                    n = Native.Send(fd, p, frame.Length, 0);
                }

                sent++;
                if (n < 0)
                {
                    failed++; // ENOBUFS: veth_xmit could not queue it on the peer (netdev_max_backlog)
                }
            }

            Volatile.Write(ref offered, sent);
            Volatile.Write(ref errors, failed);
        }
    }

    private static void ReceiveLoop(int fd, ref long received, ref bool stop)
    {
        byte* buffer = stackalloc byte[2048];
        long count = 0;
        while (!Volatile.Read(ref stop))
        {
            nint n = Native.Recv(fd, buffer, 2048, 0);
            if (n > 0)
            {
                Volatile.Write(ref received, ++count);
            }
        }
    }

    /// <summary>An AF_PACKET socket bound to <paramref name="ifindex"/>; a receiving one joins fanout group <paramref name="fanoutGroup"/> unless it is -1.</summary>
    private static int OpenSocket(int ifindex, ushort protocol, bool receive, int fanoutGroup = -1)
    {
        ushort proto = Native.Htons(protocol);
        int fd = Native.Socket(Native.AF_PACKET, Native.SOCK_RAW, proto);
        if (fd < 0)
        {
            throw new InvalidOperationException($"socket(AF_PACKET) failed: errno {Native.Errno}");
        }

        Native.SockaddrLl sll = default;
        sll.Family = Native.AF_PACKET;
        sll.Protocol = proto;
        sll.Ifindex = ifindex;
        if (Native.Bind(fd, &sll, sizeof(Native.SockaddrLl)) != 0)
        {
            int errno = Native.Errno;
            Native.Close(fd);
            throw new InvalidOperationException($"bind(AF_PACKET, ifindex {ifindex}) failed: errno {errno}");
        }

        if (receive)
        {
            int size = 64 << 20;
            Native.SetSockOpt(fd, Native.SOL_SOCKET, Native.SO_RCVBUFFORCE, &size, sizeof(int));
            var timeout = new Native.Timeval { Sec = 0, Usec = 100_000 }; // lets the receiver see the stop flag
            Native.SetSockOpt(fd, Native.SOL_SOCKET, Native.SO_RCVTIMEO, &timeout, sizeof(Native.Timeval));
            int fanout = fanoutGroup | (Native.PACKET_FANOUT_HASH << 16);
            if (fanoutGroup >= 0 && Native.SetSockOpt(fd, Native.SOL_PACKET, Native.PACKET_FANOUT, &fanout, sizeof(int)) != 0)
            {
                int errno = Native.Errno;
                Native.Close(fd);
                throw new InvalidOperationException($"setsockopt(PACKET_FANOUT) failed: errno {errno}");
            }
        }
        else
        {
            int size = 4 << 20;
            Native.SetSockOpt(fd, Native.SOL_SOCKET, Native.SO_SNDBUFFORCE, &size, sizeof(int));
        }

        return fd;
    }

    private static long SocketDrops(int[] fds)
    {
        long drops = 0;
        foreach (int fd in fds)
        {
            Native.TpacketStats stats = default;
            int len = sizeof(Native.TpacketStats);
            drops += Native.GetSockOpt(fd, Native.SOL_PACKET, Native.PACKET_STATISTICS, &stats, &len) == 0 ? stats.Drops : 0;
        }

        return drops;
    }

    private static long Sum(PaddedLong[] values)
    {
        long sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += Volatile.Read(ref values[i].Value);
        }

        return sum;
    }

    private static string Mac(byte[] mac) => string.Join(':', mac.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>Deletes both namespaces (which destroys the veth pair). Idempotent; also runs at process exit and Ctrl+C.</summary>
    public void Dispose() => _pair.Dispose();
}
