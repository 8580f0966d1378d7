using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;

namespace Vimage.Bench.Net;

/// <summary>
/// The Linux baseline: a veth pair between two network namespaces this process creates (and always deletes),
/// moving the same frames with AF_PACKET raw sockets. Sockets are opened on a thread that setns(2)-ed into the
/// namespace; a socket stays in the namespace it was created in, so senders and the receiver then run anywhere.
/// </summary>
internal sealed unsafe class VethBaseline : IDisposable
{
    private static readonly byte[] MacA = [0x02, 0x76, 0x62, 0x00, 0x00, 0x0a];
    private static readonly byte[] MacB = [0x02, 0x76, 0x62, 0x00, 0x00, 0x0b];
    private readonly string _nsA;
    private readonly string _nsB;
    private readonly string _ifA;
    private readonly string _ifB;
    private int _ifindexA;
    private int _ifindexB;
    private int _disposed;

    private VethBaseline()
    {
        int pid = Environment.ProcessId;
        _nsA = $"vbench-a-{pid}";
        _nsB = $"vbench-b-{pid}";
        _ifA = $"vba{pid}"; // IFNAMSIZ: 15 characters at most
        _ifB = $"vbb{pid}";
    }

    public string Description => $"veth {_ifA} in netns {_nsA} <-> {_ifB} in netns {_nsB}, AF_PACKET raw sockets, kernel {KernelRelease()}";

    /// <summary>Creates the namespaces and the pair, or returns null with the reason the baseline cannot run.</summary>
    public static VethBaseline? TryCreate(out string reason)
    {
        reason = "";
        if (!OperatingSystem.IsLinux())
        {
            reason = "not Linux";
            return null;
        }

        if (Native.GetEuid() != 0)
        {
            reason = "not root (creating network namespaces and AF_PACKET sockets needs CAP_SYS_ADMIN and CAP_NET_RAW)";
            return null;
        }

        var veth = new VethBaseline();
        try
        {
            veth.Setup();
            return veth;
        }
        catch (Exception e)
        {
            veth.Dispose();
            reason = e.Message;
            return null;
        }
    }

    private void Setup()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
        Console.CancelKeyPress += (_, _) => Dispose();
        Ip($"netns add {_nsA}");
        Ip($"netns add {_nsB}");
        foreach (string ns in new[] { _nsA, _nsB })
        {
            // No IPv6 autoconfiguration traffic on the link while we count frames.
            TryRun("ip", $"netns exec {ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        }

        Ip($"-n {_nsA} link add {_ifA} address {Mac(MacA)} type veth peer name {_ifB} netns {_nsB} address {Mac(MacB)}");
        Ip($"-n {_nsA} link set {_ifA} up");
        Ip($"-n {_nsB} link set {_ifB} up");
        _ifindexA = InNetns(_nsA, () => (int)Native.IfNameToIndex(_ifA));
        _ifindexB = InNetns(_nsB, () => (int)Native.IfNameToIndex(_ifB));
        if (_ifindexA == 0 || _ifindexB == 0)
        {
            throw new InvalidOperationException($"if_nametoindex failed for {_ifA}/{_ifB}");
        }
    }

    /// <summary>One run with <paramref name="senders"/> sender threads (one socket each) and one receiver.</summary>
    public RunResult Run(int frameSize, int senders, TimeSpan warmup, TimeSpan measure)
    {
        int rx = InNetns(_nsB, () => OpenSocket(_ifindexB, Native.ETH_P_ALL, receive: true));
        var tx = new int[senders];
        for (int t = 0; t < senders; t++)
        {
            tx[t] = InNetns(_nsA, () => OpenSocket(_ifindexA, 0, receive: false));
        }

        try
        {
            byte[][][] frames = BenchFrames.PerSender(MacB, MacA, senders, 16, frameSize);
            var offered = new PaddedLong[senders];
            var errors = new PaddedLong[senders];
            var received = new PaddedLong[1];
            bool stop = false;
            var threads = new List<Thread>();
            for (int t = 0; t < senders; t++)
            {
                int id = t;
                threads.Add(new Thread(() => SendLoop(tx[id], frames[id], ref offered[id].Value, ref errors[id].Value, ref stop))
                { IsBackground = true, Name = $"veth sender {id}" });
            }

            threads.Add(new Thread(() => ReceiveLoop(rx, ref received[0].Value, ref stop)) { IsBackground = true, Name = "veth receiver" });
            foreach (Thread thread in threads)
            {
                thread.Start();
            }

            Thread.Sleep(warmup);
            _ = SocketDrops(rx); // PACKET_STATISTICS resets on read: start the window at zero
            long delivered0 = Volatile.Read(ref received[0].Value);
            long offered0 = Sum(offered);
            long errors0 = Sum(errors);
            var window = Stopwatch.StartNew();
            Thread.Sleep(measure);
            double seconds = window.Elapsed.TotalSeconds;
            long delivered1 = Volatile.Read(ref received[0].Value);
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
                $"offered {offered1 - offered0:N0}, send() ENOBUFS (dropped at the peer's backlog) {sendErrors:N0}, receiving socket drops {socketDrops:N0}");
            return new RunResult(delivered1 - delivered0, offered1 - offered0, sendErrors + socketDrops, seconds, 0, 0, details);
        }
        finally
        {
            Native.Close(rx);
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

    private static int OpenSocket(int ifindex, ushort protocol, bool receive)
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
        }
        else
        {
            int size = 4 << 20;
            Native.SetSockOpt(fd, Native.SOL_SOCKET, Native.SO_SNDBUFFORCE, &size, sizeof(int));
        }

        return fd;
    }

    private static long SocketDrops(int fd)
    {
        Native.TpacketStats stats = default;
        int len = sizeof(Native.TpacketStats);
        return Native.GetSockOpt(fd, Native.SOL_PACKET, Native.PACKET_STATISTICS, &stats, &len) == 0 ? stats.Drops : 0;
    }

    /// <summary>Runs <paramref name="body"/> on a dedicated thread that entered network namespace <paramref name="ns"/>.</summary>
    internal static T InNetns<T>(string ns, Func<T> body)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                int fd = Native.Open("/var/run/netns/" + ns, Native.O_RDONLY | Native.O_CLOEXEC);
                if (fd < 0)
                {
                    throw new InvalidOperationException($"open /var/run/netns/{ns}: errno {Native.Errno}");
                }

                try
                {
                    if (Native.SetNs(fd, Native.CLONE_NEWNET) != 0)
                    {
                        throw new InvalidOperationException($"setns({ns}): errno {Native.Errno}");
                    }
                }
                finally
                {
                    Native.Close(fd);
                }

                // This thread now lives in the namespace and simply ends afterwards; no other thread is affected.
                result = body();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        { IsBackground = true, Name = "setns " + ns };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
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

    internal static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static void Ip(string arguments)
    {
        (int code, string output) = TryRun("ip", arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"`ip {arguments}` failed ({code}): {output.Trim()}");
        }
    }

    internal static (int Code, string Output) TryRun(string file, string arguments)
    {
        try
        {
            var psi = new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using Process p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{file}: {e.Message}");
        }
    }

    /// <summary>Deletes both namespaces (which destroys the veth pair). Idempotent; also runs at process exit and Ctrl+C.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        TryRun("ip", $"netns del {_nsA}");
        TryRun("ip", $"netns del {_nsB}");
    }
}
