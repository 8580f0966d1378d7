using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tcp;

/// <summary>
/// socket(AF_INET, SOCK_STREAM, 0) with IPv4-typed calls: a thin view of a <see cref="Socket"/> of the TCP protocol
/// in one vnet (so_vnet); every call enters that vnet itself, so callers need no CURVNET_SET and <c>await</c> is safe.
/// Failures throw <see cref="NetSocketException"/> with FreeBSD's errno (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE,
/// EADDRINUSE, ...); a closed socket, or one whose vnet is gone, throws <see cref="ObjectDisposedException"/>.
/// At most one async receive and one async send (or connect) may be outstanding at a time; each awaits without
/// allocating per call in steady state.
/// </summary>
public sealed class TcpSocket : IDisposable
{
    private readonly Socket _so;
    private readonly InPcb _pcb;

    private TcpSocket(Socket so)
    {
        _so = so;
        _pcb = (InPcb)so.Pcb!;
    }

    public Vnet Vnet => _so.Vnet;

    /// <summary>The socket underneath (options, state, the generic calls).</summary>
    public Socket Socket => _so;

    /// <summary>socket(AF_INET, SOCK_STREAM, 0) in <paramref name="vnet"/>.</summary>
    public static TcpSocket Create(Vnet vnet)
        => new(Socket.Create(vnet, SaFamily.AF_INET, SockType.SOCK_STREAM, IpProto.Tcp, nameof(TcpSocket)));

    public InAddr LocalAddress => _pcb.Ends.Local;

    public ushort LocalPort => _pcb.Ends.LocalPort;

    public InAddr RemoteAddress => _pcb.Ends.Foreign;

    public ushort RemotePort => _pcb.Ends.ForeignPort;

    public bool IsConnected => _so.IsConnected;

    public bool IsClosed => _so.IsClosed;

    /// <summary>t_state (netstat's column); CLOSED once the connection is gone.</summary>
    public TcpState State => ((Tcpcb)_pcb.Ppcb!).t_state;

    /// <summary>The tcpcb (read its fields under no lock only for diagnostics and tests).</summary>
    public Tcpcb Tcpcb => (Tcpcb)_pcb.Ppcb!;

    /// <summary>FIONBIO.</summary>
    public bool NonBlocking
    {
        get => _so.NonBlocking;
        set => _so.NonBlocking = value;
    }

    /// <summary>TCP_NODELAY: no Nagle.</summary>
    public bool NoDelay
    {
        get => _so.ProtocolOption(TcpOptionNames.IPPROTO_TCP, TcpOptionNames.TCP_NODELAY, false, 0) != 0;
        set => _so.ProtocolOption(TcpOptionNames.IPPROTO_TCP, TcpOptionNames.TCP_NODELAY, true, value ? 1 : 0);
    }

    /// <summary>TCP_CONGESTION: the connection's congestion-control module (net.inet.tcp.cc.available); ESRCH for an unknown name.</summary>
    public string Congestion
    {
        get => Tcpcb.t_ccv.Algo?.Name ?? "";
        set
        {
            Tcpcb tp = Tcpcb;
            int error;
            lock (tp.Lock)
            {
                error = Tcp.SetCongestion(tp, value);
            }

            if (error != 0)
            {
                throw new NetSocketException(error, "setsockopt");
            }
        }
    }

    /// <summary>SO_LINGER in seconds: -1 off, 0 close resets the connection, n close waits up to n s.</summary>
    public int Linger
    {
        get => _so.LingerSeconds;
        set => _so.LingerSeconds = value;
    }

    /// <summary>SO_REUSEADDR (set before bind): a port a connection in TIME_WAIT holds may be bound.</summary>
    public bool ReuseAddress
    {
        get => _so.GetOption(SoOption.SO_REUSEADDR) != 0;
        set => _so.SetOption(SoOption.SO_REUSEADDR, value ? 1 : 0);
    }

    /// <summary>SO_KEEPALIVE: probe an idle connection (net.inet.tcp.keepidle, keepintvl, keepcnt).</summary>
    public bool KeepAlive
    {
        get => _so.GetOption(SoOption.SO_KEEPALIVE) != 0;
        set => _so.SetOption(SoOption.SO_KEEPALIVE, value ? 1 : 0);
    }

    /// <summary>SO_SNDBUF (net.inet.tcp.sendspace when created).</summary>
    public int SendBufferSize
    {
        get => _so.GetOption(SoOption.SO_SNDBUF);
        set => _so.SetOption(SoOption.SO_SNDBUF, value);
    }

    /// <summary>SO_RCVBUF (net.inet.tcp.recvspace when created); set it before connect or listen to get a larger window.</summary>
    public int ReceiveBufferSize
    {
        get => _so.GetOption(SoOption.SO_RCVBUF);
        set => _so.SetOption(SoOption.SO_RCVBUF, value);
    }

    /// <summary>FIONREAD.</summary>
    public int Available => _so.Available;

    /// <summary>bind(2).</summary>
    public void Bind(InAddr address, ushort port) => _so.Bind(address.ToSockaddr(port));

    /// <summary>listen(2).</summary>
    public void Listen(int backlog = SoKnobs.SoMaxConn) => _so.Listen(backlog);

    /// <summary>connect(2): blocks until established (or EINPROGRESS when nonblocking); ECONNREFUSED, ETIMEDOUT.</summary>
    public void Connect(InAddr address, ushort port, int timeoutMs = Timeout.Infinite) => _so.ConnectStream(address.ToSockaddr(port), timeoutMs);

    public ValueTask ConnectAsync(InAddr address, ushort port, CancellationToken cancellationToken = default)
        => _so.ConnectStreamAsync(address.ToSockaddr(port), cancellationToken);

    /// <summary>accept(2).</summary>
    public TcpSocket Accept(int timeoutMs = Timeout.Infinite) => new(_so.Accept(timeoutMs));

    public async ValueTask<TcpSocket> AcceptAsync(CancellationToken cancellationToken = default)
        => new(await _so.AcceptAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>send(2): blocks until all of <paramref name="data"/> is in the send buffer (nonblocking: what fits).</summary>
    public int Send(ReadOnlySpan<byte> data, int timeoutMs = Timeout.Infinite) => _so.SendStream(data, timeoutMs);

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        => _so.SendStreamAsync(data, cancellationToken);

    /// <summary>recv(2): what is there (at least one byte), 0 at end of data.</summary>
    public int Receive(Span<byte> buffer, int timeoutMs = Timeout.Infinite) => _so.ReceiveStream(buffer, timeoutMs);

    /// <summary>recv(2) with MSG_PEEK, MSG_WAITALL and/or MSG_DONTWAIT (soreceive_stream).</summary>
    public int Receive(Span<byte> buffer, MsgFlags flags, int timeoutMs = Timeout.Infinite) => _so.ReceiveStream(buffer, flags, timeoutMs);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, MsgFlags flags, CancellationToken cancellationToken = default)
        => _so.ReceiveStreamAsync(buffer, flags, cancellationToken);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _so.ReceiveStreamAsync(buffer, cancellationToken);

    /// <summary>shutdown(2).</summary>
    public void Shutdown(ShutdownHow how) => _so.Shutdown(how);

    /// <summary>A <see cref="System.IO.Stream"/> over the connection (sync and async; disposing it closes the socket when <paramref name="ownsSocket"/>).</summary>
    public TcpStream GetStream(bool ownsSocket = true) => new(this, ownsSocket);

    /// <summary>An <see cref="System.IO.Pipelines.IDuplexPipe"/> view of the connection (System.IO.Pipelines).</summary>
    public TcpDuplexPipe GetPipe(bool ownsSocket = false) => new(this, ownsSocket);

    /// <summary>close(2).</summary>
    public void Close() => _so.Close();

    public void Dispose() => Close();

    public override string ToString()
    {
        PcbEnds e = _pcb.Ends;
        return $"tcp4 {e.Local}:{e.LocalPort} {e.Foreign}:{e.ForeignPort} {TcpFsm.Name(State)} ({Vnet.Name})";
    }
}

/// <summary>A <see cref="System.IO.Stream"/> over a connected <see cref="TcpSocket"/> (NetworkStream's counterpart).</summary>
public sealed class TcpStream(TcpSocket socket, bool ownsSocket) : System.IO.Stream
{
    public TcpSocket Socket { get; } = socket;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Socket.Receive(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => Socket.Receive(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => Socket.ReceiveAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => Socket.ReceiveAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Socket.Send(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => Socket.Send(buffer);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        => await Socket.SendAsync(buffer, cancellationToken).ConfigureAwait(false);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsSocket)
        {
            Socket.Close();
        }

        base.Dispose(disposing);
    }
}
