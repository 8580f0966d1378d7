using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Vimage.Bench.Net;

/// <summary>Bytes/s of one bulk window (all streams), with the sender's segment counters and the process's allocations.</summary>
internal sealed record BulkResult(long Bytes, double Seconds, long Allocated, long Segments, long Retransmitted, string Counters)
{
    public double Gbps => Bytes * 8 / Seconds / 1e9;

    public double AllocPerSegment => Segments == 0 ? double.NaN : (double)Allocated / Segments;
}

/// <summary>Connections completed per second of the window, and TIME_WAIT left on each host after it.</summary>
internal sealed record RateWindow(long Connections, double Seconds, long TimeWaitA, long TimeWaitB, string Error)
{
    public double Rate => Connections / Seconds;
}

/// <summary>Many idle established connections: time to open, memory, idle CPU, and the close.</summary>
internal sealed record IdleResult(int Connections, double OpenSeconds, long MemoryBytes, string MemoryBefore, string MemoryAfter,
    double IdleCpuBefore, double IdleCpuEstablished, double IdleCpuTimeWait, int CleanCloses, double CloseSeconds, long TimeWaitA, long TimeWaitB)
{
    public double PerConnection => (double)MemoryBytes / Connections;
}

/// <summary>
/// The tcp mode's loops, shared by both sides so that Vimage and Linux run the same user-level code: same buffer
/// sizes, same number of connections and threads, same calls in the same order (see README.md, "The tcp mode").
/// </summary>
internal static class TcpMeasure
{
    public const int Chunk = 128 * 1024; // send() and recv() buffer of the bulk streams, both stacks
    public const int Message = 64; // request/response size

    /// <summary><paramref name="streams"/> connections A→B, one sender thread each looping send(Chunk), one receiver thread each looping recv(Chunk).</summary>
    public static BulkResult Bulk(TcpSide side, ushort port, int streams, TimeSpan warmup, TimeSpan measure)
    {
        using IBenchSocket listener = side.Listen(port, 64);
        IBenchSocket[] clients = side.OnClient(() => Enumerable.Range(0, streams).Select(_ => side.Connect(port)).ToArray());
        IBenchSocket[] servers = Enumerable.Range(0, streams).Select(_ => listener.Accept()).ToArray();
        var received = new PaddedLong[streams];
        bool stop = false;
        Exception? failure = null;
        var threads = new List<Thread>();
        for (int i = 0; i < streams; i++)
        {
            int k = i;
            threads.Add(new Thread(() => Guard(ref failure, () =>
            {
                byte[] buffer = new byte[Chunk];
                long total = 0;
                int n;
                while ((n = servers[k].Receive(buffer)) > 0)
                {
                    Volatile.Write(ref received[k].Value, total += n);
                }
            })) { IsBackground = true, Name = $"{side.Name} receiver {k}" });
            threads.Add(new Thread(() => Guard(ref failure, () =>
            {
                byte[] chunk = new byte[Chunk];
                new Random(k).NextBytes(chunk);
                while (!Volatile.Read(ref stop))
                {
                    clients[k].Send(chunk);
                }

                clients[k].Dispose(); // FIN: the receiver reads to the end and stops
            })) { IsBackground = true, Name = $"{side.Name} sender {k}" });
        }

        threads.ForEach(t => t.Start());
        Thread.Sleep(warmup);
        long Sum() => received.Sum(r => Volatile.Read(ref r.Value));
        long b0 = Sum(), a0 = GC.GetTotalAllocatedBytes(precise: true);
        (long s0, long x0) = side.Segments();
        IReadOnlyDictionary<string, long> c0 = side.Counters();
        var window = Stopwatch.StartNew();
        Thread.Sleep(measure);
        long b1 = Sum(), a1 = GC.GetTotalAllocatedBytes(precise: true);
        double seconds = window.Elapsed.TotalSeconds;
        (long s1, long x1) = side.Segments();
        IReadOnlyDictionary<string, long> c1 = side.Counters();
        string conns = Environment.GetEnvironmentVariable("VIMAGE_TCP_DEBUG") is null ? "" : side.Connections();
        Volatile.Write(ref stop, true);
        threads.ForEach(t => t.Join());
        Array.ForEach(servers, s => s.Dispose());
        Rethrow(failure, "bulk");
        string counters = string.Join(", ", c1.Where(kv => kv.Value != c0.GetValueOrDefault(kv.Key)).Select(kv => $"{kv.Key} {kv.Value - c0.GetValueOrDefault(kv.Key):N0}"));
        return new BulkResult(b1 - b0, seconds, a1 - a0, s1 - s0, x1 - x0, counters + conns);
    }

    /// <summary>
    /// One client thread in A: connect, send 1 byte, receive 1 byte, close; one server thread in B: accept, receive
    /// 1 byte, send 1 byte, wait for the client's FIN, close. The client closes first, so its host keeps the TIME_WAIT.
    /// </summary>
    public static RateWindow ConnectRate(TcpSide side, ushort port, TimeSpan warmup, TimeSpan measure)
    {
        using IBenchSocket listener = side.Listen(port, 4096);
        bool stop = false;
        Exception? failure = null;
        var server = new Thread(() => Guard(ref failure, () =>
        {
            byte[] one = new byte[1];
            while (true)
            {
                using IBenchSocket c = listener.Accept();
                if (Volatile.Read(ref stop))
                {
                    return;
                }

                c.Receive(one);
                c.Send(one);
                c.Receive(one); // 0: the client's FIN
            }
        })) { IsBackground = true, Name = $"{side.Name} accept loop" };
        server.Start();
        (long count, double seconds, string error) = side.OnClient(() =>
        {
            byte[] one = [1];
            long n = 0, n0 = 0;
            long start = Stopwatch.GetTimestamp(), w0 = 0;
            long warm = (long)(warmup.TotalSeconds * Stopwatch.Frequency), end = warm + (long)(measure.TotalSeconds * Stopwatch.Frequency);
            string error = "";
            try
            {
                for (long now = 0; now < end; now = Stopwatch.GetTimestamp() - start)
                {
                    if (w0 == 0 && now >= warm)
                    {
                        (w0, n0) = (Stopwatch.GetTimestamp(), n);
                    }

                    using IBenchSocket s = side.Connect(port);
                    s.Send(one);
                    s.Receive(one);
                    n++;
                }
            }
            catch (Exception e)
            {
                error = $"stopped after {n} connections: {e.Message}"; // e.g. EADDRNOTAVAIL, every port in TIME_WAIT
            }

            double secs = w0 == 0 ? 0 : (Stopwatch.GetTimestamp() - w0) / (double)Stopwatch.Frequency;
            Volatile.Write(ref stop, true);
            try
            {
                side.Connect(port).Dispose(); // wakes the accept loop to see the stop flag
            }
            catch (Exception e)
            {
                error += $" (last connect: {e.Message})";
            }

            return (n - n0, secs, error);
        });
        server.Join();
        Rethrow(failure, "connection rate");
        (long twA, long twB) = side.TimeWait();
        return new RateWindow(count, seconds, twA, twB, error);
    }

    /// <summary>64-byte ping-pong on one connection, TCP_NODELAY on both ends; an echo thread in B.</summary>
    public static LatencyResult RequestResponse(TcpSide side, ushort port, int warmup, int count, TimeSpan cap)
    {
        using IBenchSocket listener = side.Listen(port, 1);
        using IBenchSocket client = side.OnClient(() => side.Connect(port));
        using IBenchSocket server = listener.Accept();
        client.SetNoDelay();
        server.SetNoDelay();
        Exception? failure = null;
        var echo = new Thread(() => Guard(ref failure, () =>
        {
            byte[] buffer = new byte[Message];
            while (ReadExactly(server, buffer))
            {
                server.Send(buffer);
            }
        })) { IsBackground = true, Name = $"{side.Name} echo" };
        echo.Start();
        byte[] request = new byte[Message];
        byte[] reply = new byte[Message];
        bool RoundTrip(int seq)
        {
            request[0] = (byte)seq;
            client.Send(request);
            return ReadExactly(client, reply) && reply[0] == (byte)seq;
        }

        LatencyResult result = InetMeasure.Latency(RoundTrip, warmup, count, cap);
        client.Dispose();
        echo.Join();
        Rethrow(failure, "request/response");
        return result;
    }

    /// <summary>
    /// Opens <paramref name="n"/> connections A→B (the first 50,000 from 192.0.2.1, the rest from 192.0.2.3; an
    /// accept thread takes them as they come), exchanges 1 byte each way on each, measures the memory the stack
    /// holds for them and the process's CPU over <paramref name="idle"/> with nothing to do, then closes them all
    /// (client first; each server end reads the FIN and closes) and measures idle CPU again with the TIME_WAITs.
    /// </summary>
    public static IdleResult Idle(TcpSide side, ushort port, int n, TimeSpan idle)
    {
        double cpuBefore = IdleCpu(idle);
        (long m0, string before) = side.Memory();
        using IBenchSocket listener = side.Listen(port, 4096);
        var servers = new IBenchSocket[n];
        Exception? failure = null;
        var acceptor = new Thread(() => Guard(ref failure, () =>
        {
            for (int i = 0; i < n; i++)
            {
                servers[i] = listener.Accept();
            }
        })) { IsBackground = true, Name = $"{side.Name} acceptor" };
        var clock = Stopwatch.StartNew();
        acceptor.Start();
        IBenchSocket[] clients = side.OnClient(() => Enumerable.Range(0, n).Select(i => side.Connect(port, i < 50_000 ? 0 : 1)).ToArray());
        acceptor.Join();
        double open = clock.Elapsed.TotalSeconds;
        Rethrow(failure, "accept");
        byte[] one = [1];
        for (int i = 0; i < n; i++)
        {
            clients[i].Send(one);
            servers[i].Receive(one);
            servers[i].Send(one);
            clients[i].Receive(one);
        }

        Thread.Sleep(300); // let the delayed ACKs of the last exchanges go out
        (long m1, string after) = side.Memory();
        double cpuEstablished = IdleCpu(idle);
        clock.Restart();
        Array.ForEach(clients, c => c.Dispose());
        int clean = 0;
        foreach (IBenchSocket s in servers)
        {
            clean += s.Receive(one) == 0 ? 1 : 0;
            s.Dispose();
        }

        double close = clock.Elapsed.TotalSeconds;
        (long twA, long twB) = side.TimeWait();
        double cpuTimeWait = IdleCpu(idle);
        return new IdleResult(n, open, m1 - m0, before, after, cpuBefore, cpuEstablished, cpuTimeWait, clean, close, twA, twB);
    }

    /// <summary>The process's CPU time (all threads, user + system) over <paramref name="span"/> of doing nothing, as a share of one CPU.</summary>
    public static double IdleCpu(TimeSpan span)
    {
        using Process self = Process.GetCurrentProcess();
        TimeSpan c0 = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Thread.Sleep(span);
        self.Refresh();
        return (self.TotalProcessorTime - c0).TotalSeconds / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Runs <paramref name="body"/> on a new thread and returns its result (the Vimage side's <see cref="TcpSide.OnClient"/>).</summary>
    public static T OnThread<T>(string name, Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() => Guard(ref failure, () => result = body())) { IsBackground = true, Name = name };
        thread.Start();
        thread.Join();
        Rethrow(failure, name);
        return result;
    }

    private static bool ReadExactly(IBenchSocket s, byte[] buffer)
    {
        for (int have = 0; have < buffer.Length;)
        {
            int n = s.Receive(buffer.AsSpan(have));
            if (n <= 0)
            {
                return false;
            }

            have += n;
        }

        return true;
    }

    private static void Guard(ref Exception? failure, Action body)
    {
        try
        {
            body();
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref failure, e, null);
        }
    }

    private static void Rethrow(Exception? failure, string what)
    {
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(new InvalidOperationException($"{what}: {failure.Message}", failure));
        }
    }
}
