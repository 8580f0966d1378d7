using System.Threading.Tasks.Sources;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Udp;

/// <summary>
/// socket(AF_INET, SOCK_DGRAM, 0) with IPv4-typed calls: a thin view of a <see cref="Socket"/> of the UDP
/// protocol (<see cref="UdpProtosw"/>) in one vnet (so_vnet). Every call enters that vnet itself, so callers need
/// no CURVNET_SET, and <c>await</c> is safe. Failures throw <see cref="NetSocketException"/> with FreeBSD's errno
/// ("sendto: No route to host"); using a closed socket, or one whose vnet was destroyed, throws
/// <see cref="ObjectDisposedException"/>.
/// <para>
/// Received datagrams stay in the mbufs they arrived in, queued on the socket (so_rcv) up to
/// <see cref="ReceiveBufferSize"/> bytes (datagram plus a 16-byte sockaddr each, as sbappendaddr charges) and 8
/// times that in buffer storage (sb_mbmax); a receive copies one out and frees it, so steady-state receiving
/// allocates nothing. Thread-safe; at most one <see cref="ReceiveFromAsync"/> may be outstanding at a time.
/// </para>
/// </summary>
public sealed class UdpSocket : IDisposable, IValueTaskSource<UdpReceiveResult>
{
    private readonly Socket _so;
    private readonly InPcb _pcb;

    private UdpSocket(Socket so)
    {
        _so = so;
        _pcb = (InPcb)so.Pcb!;
    }

    /// <summary>so_vnet: the stack this socket lives in.</summary>
    public Vnet Vnet => _so.Vnet;

    /// <summary>The socket underneath (options, shutdown, the generic calls).</summary>
    public Socket Socket => _so;

    /// <summary>socket(AF_INET, SOCK_DGRAM, 0) in <paramref name="vnet"/> (counted in vnet_sockcnt).</summary>
    public static UdpSocket Create(Vnet vnet)
        => new(Socket.Create(vnet, SaFamily.AF_INET, SockType.SOCK_DGRAM, IpProto.Udp, nameof(UdpSocket)));

    /// <summary>A socket in the current vnet.</summary>
    public static UdpSocket Create()
        => Create(Curvnet.Current ?? throw new InvalidOperationException("no current vnet: pass one to UdpSocket.Create"));

    public InAddr LocalAddress => _pcb.Ends.Local;

    /// <summary>The bound port (0 until bound, explicitly or by the first send or connect).</summary>
    public ushort LocalPort => _pcb.Ends.LocalPort;

    public InAddr RemoteAddress => _pcb.Ends.Foreign;

    public ushort RemotePort => _pcb.Ends.ForeignPort;

    public bool IsBound => _pcb.Ends.IsBound;

    public bool IsConnected => _pcb.Ends.IsConnected;

    public bool IsClosed => _so.IsClosed;

    /// <summary>SO_BROADCAST: sending to a broadcast address is EACCES without it.</summary>
    public bool AllowBroadcast
    {
        get => (_so.Options & SoOptions.SO_BROADCAST) != 0;
        set => SetFlag(SoOptions.SO_BROADCAST, value);
    }

    /// <summary>SO_REUSEADDR (set before bind).</summary>
    public bool ReuseAddress
    {
        get => (_so.Options & SoOptions.SO_REUSEADDR) != 0;
        set => SetFlag(SoOptions.SO_REUSEADDR, value);
    }

    /// <summary>SO_REUSEPORT (set before bind): sockets that all set it may share an address and port.</summary>
    public bool ReusePort
    {
        get => (_so.Options & SoOptions.SO_REUSEPORT) != 0;
        set => SetFlag(SoOptions.SO_REUSEPORT, value);
    }

    /// <summary>IP_TTL; 0 uses net.inet.ip.ttl.</summary>
    public byte Ttl
    {
        get => _pcb.Ttl;
        set => _pcb.Ttl = value;
    }

    /// <summary>IP_TOS.</summary>
    public byte Tos
    {
        get => _pcb.Tos;
        set => _pcb.Tos = value;
    }

    /// <summary>SO_RCVBUF: net.inet.udp.recvspace when created; at most kern.ipc.maxsockbuf.</summary>
    public int ReceiveBufferSize
    {
        get => _so.GetOption(SoOption.SO_RCVBUF);
        set => _so.SetOption(SoOption.SO_RCVBUF, value);
    }

    /// <summary>SO_SNDBUF: net.inet.udp.maxdgram when created; a larger datagram is EMSGSIZE.</summary>
    public int SendBufferSize
    {
        get => _so.GetOption(SoOption.SO_SNDBUF);
        set => _so.SetOption(SoOption.SO_SNDBUF, value);
    }

    /// <summary>FIONREAD: data bytes queued (all datagrams).</summary>
    public int Available => _so.Available;

    /// <summary>Datagrams queued.</summary>
    public int QueuedDatagrams => _so.QueuedRecords;

    /// <summary>bind(2): port 0 picks an ephemeral port (net.inet.ip.portrange.first-last, per vnet).</summary>
    public void Bind(InAddr address, ushort port) => _so.Bind(address.ToSockaddr(port));

    /// <summary>connect(2): fixes the peer (sends go there, only its datagrams are received); binds if needed.</summary>
    public void Connect(InAddr address, ushort port) => _so.Connect(address.ToSockaddr(port));

    /// <summary>connect(2) with AF_UNSPEC: forgets the peer (and, as in BSD, the local address).</summary>
    public void Disconnect() => _so.Disconnect();

    /// <summary>sendto(2): returns the bytes sent. EISCONN on a connected socket; binds an ephemeral port first if needed.</summary>
    public int SendTo(ReadOnlySpan<byte> data, InAddr destination, ushort port) => _so.SendTo(data, destination.ToSockaddr(port));

    /// <summary>send(2) on a connected socket (ENOTCONN otherwise).</summary>
    public int Send(ReadOnlySpan<byte> data) => _so.Send(data);

    /// <summary>UDP never blocks on output: completes synchronously (errors are faulted ValueTasks).</summary>
    public ValueTask<int> SendToAsync(ReadOnlyMemory<byte> data, InAddr destination, ushort port, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        try
        {
            return new ValueTask<int>(SendTo(data.Span, destination, port));
        }
        catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        try
        {
            return new ValueTask<int>(Send(data.Span));
        }
        catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    /// <summary>
    /// recvfrom(2): waits up to <paramref name="timeoutMs"/> (-1 forever, 0 polls) for a datagram and copies it into
    /// <paramref name="buffer"/>; returns the bytes copied (a longer datagram is truncated: use <see cref="Receive"/>
    /// to see MSG_TRUNC). A timeout throws EAGAIN; a pending ICMP error (connected sockets) throws it once.
    /// </summary>
    public int ReceiveFrom(Span<byte> buffer, out InAddr from, out ushort fromPort, int timeoutMs = Timeout.Infinite)
    {
        UdpReceiveResult r = Receive(buffer, timeoutMs);
        from = r.RemoteAddress;
        fromPort = r.RemotePort;
        return r.BytesReceived;
    }

    /// <summary>recvmsg(2): one datagram with its sender and the MSG_TRUNC flag.</summary>
    public UdpReceiveResult Receive(Span<byte> buffer, int timeoutMs = Timeout.Infinite) => Convert(_so.Receive(buffer, timeoutMs));

    /// <summary>
    /// recvfrom(2) without blocking a thread: completes at once when a datagram is queued, otherwise when one
    /// arrives (the datagram is copied straight into <paramref name="buffer"/>). One call may be outstanding at a
    /// time (InvalidOperationException otherwise); awaiting it allocates nothing per datagram (a cancelable token
    /// costs one registration per wait): this object forwards to the socket's own value-task source.
    /// </summary>
    public ValueTask<UdpReceiveResult> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ValueTask<SocketReceiveResult> pending = _so.ReceiveAsync(buffer, cancellationToken);
        if (!pending.IsCompleted)
        {
            return new ValueTask<UdpReceiveResult>(this, _so.AsyncToken);
        }

        try
        {
            return new ValueTask<UdpReceiveResult>(Convert(pending.Result));
        }
        catch (OperationCanceledException e)
        {
            return ValueTask.FromCanceled<UdpReceiveResult>(e.CancellationToken);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<UdpReceiveResult>(e);
        }
    }

    /// <summary>close(2): the PCB goes, queued datagrams are freed, waiting receivers get ObjectDisposedException.</summary>
    public void Close() => _so.Close();

    public void Dispose() => Close();

    public override string ToString()
    {
        PcbEnds e = _pcb.Ends;
        string state = _so.IsClosed ? "closed" : e.IsConnected ? $"{e.Foreign}:{e.ForeignPort}" : "*:*";
        return $"udp4 {(e.Local.IsAny ? "*" : e.Local.ToString())}:{(e.LocalPort == 0 ? "*" : e.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture))} {state} ({Vnet.Name})";
    }

    private static UdpReceiveResult Convert(SocketReceiveResult r)
        => new(r.BytesReceived, InAddr.From(r.From), r.From.Port, r.RecordLength);

    private void SetFlag(SoOptions flag, bool on)
        => _so.SetOption((SoOption)(int)flag, on ? 1 : 0);

    UdpReceiveResult IValueTaskSource<UdpReceiveResult>.GetResult(short token)
        => Convert(((IValueTaskSource<SocketReceiveResult>)_so).GetResult(token));

    ValueTaskSourceStatus IValueTaskSource<UdpReceiveResult>.GetStatus(short token)
        => ((IValueTaskSource<SocketReceiveResult>)_so).GetStatus(token);

    void IValueTaskSource<UdpReceiveResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => ((IValueTaskSource<SocketReceiveResult>)_so).OnCompleted(continuation, state, token, flags);
}
