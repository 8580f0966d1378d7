using System.Globalization;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;
using Vimage.Net.Udp;

namespace Vimage.Cli.Commands;

/// <summary>
/// nc(1), FreeBSD's contrib/netcat for IPv4 TCP and UDP: connect (to a port or a range, <c>-z</c> scans) or listen
/// (<c>-l</c>, <c>-k</c>), then readwrite(): the client's stdin to the connection and the connection to stdout,
/// both streamed through the host (CommandContext.Input/BinaryOut), with netcat's rules for when it ends: stdin EOF
/// stops sending (shutdown(SHUT_WR) with <c>-N</c>), network EOF stops receiving, both (or, listening, the network
/// alone) end it, and <c>-w</c> ends it after that long without activity (and bounds connect).
/// </summary>
public sealed class NcCommand : ICommand, IUsageStatus
{
    /// <summary>netcat's BUFSIZE.</summary>
    private const int BufSize = 16384;

    public string Name => "nc";

    public string Usage => "nc [-46DdFhklMNnrStUuvz] [-I length] [-i interval] [-O length]\n\t  [--no-tcpopt] [--sctp]\n" +
                           "\t  [-P proxy_username] [-p source_port] [-s source] [-T ToS]\n\t  [-V rtable] [-w timeout] [-X proxy_protocol]\n" +
                           "\t  [-x proxy_address[:port]] [destination] [port]";

    public int UsageExitCode => 1;

    /// <summary>netcat's getopt_long string.</summary>
    public const string Optstring = "46DdEe:FhI:i:klMNnoO:P:p:rSs:tT:UuV:vw:X:x:z";

    private static readonly Dictionary<string, bool> LongOptions = new(StringComparer.Ordinal) { ["no-tcpopt"] = false, ["sctp"] = false };

    private sealed class Options
    {
        public bool D, K, L, N, R, U, V, Z;
        public int TimeoutMs = Timeout.Infinite;
        public int RcvBuf, SndBuf;

        /// <summary>-V rtable: the socket's fib (SO_SETFIB), -1 for the caller's.</summary>
        public int Rtable = -1;
        public string? Source, SourcePort;
    }

    public int Run(CommandContext context, string[] args)
    {
        var o = new Options();
        var getopt = new Getopt("nc", args, Optstring, LongOptions);
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case '4': case 'n': case 'D': break; // IPv4 is all there is; names are never looked up; SO_DEBUG records nothing
                case 'd': o.D = true; break;
                case 'k': o.K = true; break;
                case 'l': o.L = true; break;
                case 'N': o.N = true; break;
                case 'r': o.R = true; break;
                case 'u': o.U = true; break;
                case 'v': o.V = true; break;
                case 'z': o.Z = true; break;
                case 'p': o.SourcePort = getopt.Optarg; break;
                case 's': o.Source = getopt.Optarg; break;
                case 'o': context.Err.WriteLine("option -o is deprecated."); break;
                case 'e': case 'E': throw new CommandException("nc: IPsec support unavailable.");
                case 'M': throw new CommandException("nc: -M requires stats(3) support");
                case 'w': o.TimeoutMs = Strtonum(getopt.Optarg!, 0, int.MaxValue / 1000, "timeout") * 1000; break;
                case 'I': o.RcvBuf = Strtonum(getopt.Optarg!, 1, 65536 << 14, "TCP receive window"); break;
                case 'O': o.SndBuf = Strtonum(getopt.Optarg!, 1, 65536 << 14, "TCP send window"); break;
                case 'V': o.Rtable = Strtonum(getopt.Optarg!, 0, 255, "rtable"); break; // RT_TABLEID_MAX; SO_SETFIB checks net.fibs
                case 'h': throw new UsageException("");
                case Getopt.LongOption: throw new CommandException($"nc: --{getopt.LongName}: not supported in Vimage");
                default: throw Unsupported.Option("nc", ch, ch switch
                {
                    '6' => "no IPv6 in Vimage",
                    'U' => "no Unix domain sockets in Vimage",
                    'F' or 'P' or 'X' or 'x' => "no descriptor passing or proxies in Vimage",
                    _ => "not supported in Vimage",
                });
            }
        }

        string[] rest = getopt.Operands;
        (string? host, string port) = rest.Length switch
        {
            1 when o.L => (null, rest[0]),
            2 => (rest[0], rest[1]),
            _ => throw new UsageException(""),
        };
        if (o.L && o.Source is not null)
        {
            throw new CommandException("nc: cannot use -s and -l");
        }

        if (o.L && o.SourcePort is not null)
        {
            throw new CommandException("nc: cannot use -p and -l");
        }

        if (o.L && o.Z)
        {
            throw new CommandException("nc: cannot use -z and -l");
        }

        if (!o.L && o.K)
        {
            throw new CommandException("nc: must use -l with -k");
        }

        var stdio = new Stdio(o.D ? Stream.Null : context.Input ?? Stream.Null, context.BinaryOut ?? new TextOut(context.Out));
        return o.L ? Listen(context, o, host, port, stdio) : ConnectAll(context, o, host!, port, stdio);
    }

    private sealed record Stdio(Stream In, Stream Out);

    /// <summary>The main loop over build_ports' list: remote_connect each, report, readwrite; 0 if any connected.</summary>
    private static int ConnectAll(CommandContext context, Options o, string host, string port, Stdio stdio)
    {
        InAddr address = Resolve(host);
        List<ushort> ports = BuildPorts(port, o.R);
        InAddr source = o.Source is null ? InAddr.Any : Resolve(o.Source);
        ushort sourcePort = o.SourcePort is null ? (ushort)0 : ServicePort(o.SourcePort);
        int ret = 1;
        foreach (ushort p in ports)
        {
            using Net? net = RemoteConnect(context, o, address, host, p, source, sourcePort);
            if (net is null)
            {
                continue;
            }

            ret = 0;
            if (o.V || o.Z)
            {
                if (o.U && !net.UdpTest())
                {
                    ret = 1;
                    continue;
                }

                context.Err.WriteLine($"Connection to {host} {p} port [{(o.U ? "udp" : "tcp")}/*] succeeded!");
            }

            if (!o.Z)
            {
                ReadWrite(context, o, net, stdio);
            }
        }

        return ret;
    }

    /// <summary>remote_connect: socket, optional bind (-s/-p), connect bounded by -w; null (warned with -v) on failure.</summary>
    private static Net? RemoteConnect(CommandContext context, Options o, InAddr address, string host, ushort port, InAddr source, ushort sourcePort)
    {
        Net net = o.U ? new Net(UdpSocket.Create(context.Vnet)) : new Net(TcpSocket.Create(context.Vnet));
        try
        {
            net.Configure(o);
            if (o.Source is not null || o.SourcePort is not null)
            {
                try
                {
                    net.Bind(source, sourcePort);
                }
                catch (NetSocketException e)
                {
                    throw new CommandException($"nc: bind failed: {NetSocketException.Describe(e.Errno)}");
                }
            }

            net.Connect(address, port, o.TimeoutMs, context.Cancel);
            return net;
        }
        catch (NetSocketException e)
        {
            if (o.V)
            {
                context.Err.WriteLine($"nc: connect to {host} port {port} ({(o.U ? "udp" : "tcp")}) failed: {NetSocketException.Describe(e.Errno)}");
            }

            net.Dispose();
            return null;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>local_listen, then accept (or, for UDP, the first datagram's sender) and readwrite; again with -k.</summary>
    private static int Listen(CommandContext context, Options o, string? host, string port, Stdio stdio)
    {
        InAddr address = host is null ? InAddr.Any : Resolve(host);
        ushort p = ServicePort(port);
        if (o.U)
        {
            do
            {
                using var udp = new Net(UdpSocket.Create(context.Vnet));
                udp.Configure(o);
                BindOrFail(udp, address, p);

                // Without -k: recvfrom(MSG_PEEK) then connect(2) to the sender; that first datagram is the stream's start.
                // With -k the socket stays unconnected and takes datagrams from anyone.
                if (!o.K)
                {
                    UdpReceiveResult first = udp.ReceiveFirst(context.Cancel, out byte[] data);
                    udp.ConnectUdp(first.RemoteAddress, first.RemotePort);
                    if (o.V)
                    {
                        context.Err.WriteLine($"Connection from {first.RemoteAddress} {first.RemotePort} received!");
                    }

                    stdio.Out.Write(data, 0, first.BytesReceived);
                }

                ReadWrite(context, o, udp, stdio);
            }
            while (o.K);

            return 0;
        }

        using TcpSocket listener = TcpSocket.Create(context.Vnet);
        var listening = new Net(listener);
        listening.Configure(o);
        BindOrFail(listening, address, p);
        listener.Listen(1);
        do
        {
            TcpSocket accepted;
            try
            {
                accepted = listener.AcceptAsync(context.Cancel).AsTask().GetAwaiter().GetResult();
            }
            catch (NetSocketException e)
            {
                throw new CommandException($"nc: accept: {NetSocketException.Describe(e.Errno)}");
            }

            using var net = new Net(accepted);
            if (o.V)
            {
                context.Err.WriteLine($"Connection from {accepted.RemoteAddress} {accepted.RemotePort} received!");
            }

            ReadWrite(context, o, net, stdio);
        }
        while (o.K);

        return 0;
    }

    private static void BindOrFail(Net net, InAddr address, ushort port)
    {
        try
        {
            net.Bind(address, port);
        }
        catch (NetSocketException e)
        {
            throw new CommandException($"nc: {NetSocketException.Describe(e.Errno)}"); // err(1, NULL)
        }
    }

    /// <summary>
    /// readwrite(): two pumps, stdin → network and network → stdout. It returns when both inputs are done, when
    /// listening and the network input is done, or after -w without activity (poll's timeout).
    /// </summary>
    private static void ReadWrite(CommandContext context, Options o, Net net, Stdio stdio)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.Cancel);
        long last = Environment.TickCount64;
        Task netIn = Task.Run(async () =>
        {
            var buffer = new byte[BufSize];
            try
            {
                for (int n; (n = await net.ReadAsync(buffer, done.Token).ConfigureAwait(false)) >= 0;)
                {
                    Volatile.Write(ref last, Environment.TickCount64);
                    stdio.Out.Write(buffer, 0, n); // waits for the client: backpressure down to the TCP window
                }
            }
            catch (Exception e) when (e is NetSocketException or ObjectDisposedException or IOException or OperationCanceledException)
            {
                // error on net in: netin gone, as fillbuf's -1
            }
        });
        Task stdIn = Task.Run(async () =>
        {
            var buffer = new byte[BufSize];
            try
            {
                for (int n; (n = await stdio.In.ReadAsync(buffer, done.Token).ConfigureAwait(false)) > 0;)
                {
                    Volatile.Write(ref last, Environment.TickCount64);
                    await net.WriteAsync(buffer.AsMemory(0, n), done.Token).ConfigureAwait(false);
                }

                if (o.N)
                {
                    net.ShutdownWrite();
                }
            }
            catch (Exception e) when (e is NetSocketException or ObjectDisposedException or IOException or OperationCanceledException)
            {
                // stdin or net out gone
            }
        });

        try
        {
            while (!(netIn.IsCompleted && (stdIn.IsCompleted || o.L)))
            {
                Task next = netIn.IsCompleted ? stdIn : stdIn.IsCompleted ? netIn : Task.WhenAny(netIn, stdIn);
                if (o.TimeoutMs == Timeout.Infinite)
                {
                    next.Wait(context.Cancel);
                    continue;
                }

                long idle = Environment.TickCount64 - Volatile.Read(ref last);
                if (idle >= o.TimeoutMs || !next.Wait((int)(o.TimeoutMs - idle), context.Cancel) && Environment.TickCount64 - Volatile.Read(ref last) >= o.TimeoutMs)
                {
                    break; // poll timed out
                }
            }
        }
        finally
        {
            done.Cancel();
            net.Dispose(); // wakes a pump blocked in the stack
            Task.WaitAll(netIn, stdIn);
        }

        context.Cancel.ThrowIfCancellationRequested();
    }

    /// <summary>getaddrinfo with AI_NUMERICHOST in effect: jails have no resolver.</summary>
    private static InAddr Resolve(string host)
        => InAddr.TryParse(host, out InAddr a) ? a : throw new CommandException("nc: getaddrinfo: Name does not resolve");

    /// <summary>A port for getaddrinfo: numeric only (no services database).</summary>
    private static ushort ServicePort(string port)
        => ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out ushort p)
            ? p
            : throw new CommandException("nc: getaddrinfo: Servname not supported for ai_socktype");

    /// <summary>build_ports: one port, or lo-hi (either order), shuffled with -r.</summary>
    private static List<ushort> BuildPorts(string spec, bool random)
    {
        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return [(ushort)Strtonum(spec, 1, 65535, "port number")];
        }

        int hi = Strtonum(spec[(dash + 1)..], 1, 65535, "port number");
        int lo = Strtonum(spec[..dash], 1, 65535, "port number");
        if (lo > hi)
        {
            (lo, hi) = (hi, lo);
        }

        var ports = Enumerable.Range(lo, hi - lo + 1).Select(p => (ushort)p).ToList();
        if (random)
        {
            Random.Shared.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ports));
        }

        return ports;
    }

    /// <summary>strtonum(3) and netcat's errx(1, "WHAT %s: %s", errstr, arg).</summary>
    private static int Strtonum(string text, long min, long max, string what)
    {
        string? error = !long.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite, CultureInfo.InvariantCulture, out long v)
            ? "invalid"
            : v < min ? "too small" : v > max ? "too large" : null;
        return error is null ? (int)v : throw new CommandException($"nc: {what} {error}: {text}");
    }

    /// <summary>The network end of readwrite, TCP or UDP.</summary>
    private sealed class Net : IDisposable
    {
        private readonly TcpSocket? _tcp;
        private readonly UdpSocket? _udp;

        public Net(TcpSocket tcp) => _tcp = tcp;

        public Net(UdpSocket udp) => _udp = udp;

        public void Configure(Options o)
        {
            Socket so = _tcp?.Socket ?? _udp!.Socket;
            if (o.RcvBuf > 0)
            {
                so.SetOption(SoOption.SO_RCVBUF, o.RcvBuf);
            }

            if (o.SndBuf > 0)
            {
                so.SetOption(SoOption.SO_SNDBUF, o.SndBuf);
            }

            if (o.Rtable >= 0)
            {
                try
                {
                    so.SetOption(SoOption.SO_SETFIB, o.Rtable);
                }
                catch (NetSocketException)
                {
                    throw new CommandException("nc: setsockopt SO_SETFIB: Invalid argument");
                }
            }
        }

        public void Bind(InAddr address, ushort port)
        {
            if (_tcp is not null)
            {
                _tcp.Bind(address, port);
            }
            else
            {
                _udp!.Bind(address, port);
            }
        }

        /// <summary>timeout_connect: connect(2), waiting at most <paramref name="timeoutMs"/> (ETIMEDOUT after).</summary>
        public void Connect(InAddr address, ushort port, int timeoutMs, CancellationToken cancel)
        {
            if (_udp is not null)
            {
                _udp.Connect(address, port);
                return;
            }

            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            if (timeoutMs != Timeout.Infinite)
            {
                bounded.CancelAfter(timeoutMs);
            }

            try
            {
                _tcp!.ConnectAsync(address, port, bounded.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new NetSocketException(Errno.ETIMEDOUT, "connect");
            }
        }

        public void ConnectUdp(InAddr address, ushort port) => _udp!.Connect(address, port);

        /// <summary>udptest: four one-byte writes; the last one's result.</summary>
        public bool UdpTest()
        {
            bool ok = false;
            for (int i = 0; i <= 3; i++)
            {
                try
                {
                    ok = _udp!.Send("X"u8) == 1;
                }
                catch (NetSocketException)
                {
                    ok = false;
                }
            }

            return ok;
        }

        public UdpReceiveResult ReceiveFirst(CancellationToken cancel, out byte[] data)
        {
            data = new byte[2048]; // netcat's plen
            try
            {
                return _udp!.ReceiveFromAsync(data, cancel).AsTask().GetAwaiter().GetResult();
            }
            catch (NetSocketException e)
            {
                throw new CommandException($"nc: recvfrom: {NetSocketException.Describe(e.Errno)}");
            }
        }

        /// <summary>read(2) on the network: bytes read, or -1 at end of stream (TCP's FIN; an empty datagram is data).</summary>
        public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancel)
            => _tcp is not null
                ? await _tcp.ReceiveAsync(buffer, cancel).ConfigureAwait(false) is var n and > 0 ? n : -1
                : (await _udp!.ReceiveFromAsync(buffer, cancel).ConfigureAwait(false)).BytesReceived;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancel)
        {
            if (_udp is not null)
            {
                await _udp.SendAsync(data, cancel).ConfigureAwait(false);
                return;
            }

            while (data.Length > 0)
            {
                int n = await _tcp!.SendAsync(data, cancel).ConfigureAwait(false);
                data = data[n..];
            }
        }

        /// <summary>shutdown(SHUT_WR) (-N after stdin EOF): a TCP FIN; nothing on the wire for UDP.</summary>
        public void ShutdownWrite()
        {
            if (_tcp is not null)
            {
                _tcp.Shutdown(ShutdownHow.SHUT_WR);
            }
        }

        public void Dispose()
        {
            _tcp?.Dispose();
            _udp?.Dispose();
        }
    }

    /// <summary>Binary stdout onto a text writer (an in-process caller without BinaryOut): UTF-8, split sequences kept whole.</summary>
    private sealed class TextOut(TextWriter writer) : Stream
    {
        private readonly System.Text.Decoder _decoder = System.Text.Encoding.UTF8.GetDecoder();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            var chars = new char[count + 4];
            int n;
            lock (_decoder)
            {
                n = _decoder.GetChars(buffer, offset, count, chars, 0, flush: false);
            }

            writer.Write(chars, 0, n);
            writer.Flush();
        }

        public override void Flush() => writer.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
