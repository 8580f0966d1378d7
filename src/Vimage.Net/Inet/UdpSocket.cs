using System.Buffers.Binary;
using System.Threading.Tasks.Sources;
using Vimage.Core;
using Vimage.Net.Sockets;

namespace Vimage.Net.Inet;

/// <summary>
/// socket(AF_INET, SOCK_DGRAM, 0): a UDP socket of one vnet (so_vnet). Every call enters that vnet itself, so
/// callers need no CURVNET_SET, and <c>await</c> is safe. Failures throw <see cref="NetSocketException"/> with
/// FreeBSD's errno ("sendto: No route to host"); using a closed socket, or one whose vnet was destroyed, throws
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
    private static readonly Action<object?, CancellationToken> CancelCallback = static (state, token) => ((UdpSocket)state!).CancelAsync(token);

    private readonly object _lock = new();
    private readonly UdpPcbTable _table;
    private readonly UdpPcb _pcb;

    // so_rcv: a queue of mbufs linked by NextPacket, with sb_cc / sb_mbcnt style accounting.
    private Mbuf? _head;
    private Mbuf? _tail;
    private int _queued;
    private int _sbcc;
    private int _available;
    private int _mbcnt;
    private int _rcvHiwat;
    private int _sndHiwat;
    private int _syncWaiters;

    private int _soError;
    private bool _closed;
    private string _closeReason = "socket closed";

    // The one outstanding async receive: outstanding from the call until GetResult, waiting until a datagram,
    // an error, cancellation or close takes it.
    private ManualResetValueTaskSourceCore<UdpReceiveResult> _core = new() { RunContinuationsAsynchronously = true };
    private bool _asyncOutstanding;
    private bool _asyncWaiting;
    private Memory<byte> _asyncBuffer;
    private CancellationTokenRegistration _asyncRegistration;

    private UdpSocket(Vnet vnet)
    {
        Vnet = vnet;
        _pcb = new UdpPcb(this);
        _table = Udp.Table;
        _rcvHiwat = Udp.RecvSpace;
        _sndHiwat = Udp.MaxDgram;
    }

    internal enum DeliverResult
    {
        Queued,
        Full,
        Closed,
    }

    /// <summary>so_vnet: the stack this socket lives in.</summary>
    public Vnet Vnet { get; }

    /// <summary>socket(AF_INET, SOCK_DGRAM, 0) in <paramref name="vnet"/> (counted in vnet_sockcnt).</summary>
    public static UdpSocket Create(Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        if (!vnet.TryEnter())
        {
            throw new ObjectDisposedException(vnet.ToString(), $"socket: {vnet} is shutting down or destroyed");
        }

        try
        {
            using (Curvnet.Set(vnet))
            {
                var so = new UdpSocket(vnet);
                if (!so._table.Attach(so._pcb))
                {
                    throw new ObjectDisposedException(vnet.ToString(), $"socket: {vnet} is shutting down");
                }

                vnet.AddSocket();
                return so;
            }
        }
        finally
        {
            vnet.Exit();
        }
    }

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

    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>SO_BROADCAST: sending to a broadcast address is EACCES without it.</summary>
    public bool AllowBroadcast { get; set; }

    /// <summary>SO_REUSEADDR (set before bind).</summary>
    public bool ReuseAddress
    {
        get => _pcb.ReuseAddress;
        set => _pcb.ReuseAddress = value;
    }

    /// <summary>SO_REUSEPORT (set before bind): sockets that all set it may share an address and port.</summary>
    public bool ReusePort
    {
        get => _pcb.ReusePort;
        set => _pcb.ReusePort = value;
    }

    /// <summary>IP_TTL; 0 uses net.inet.ip.ttl.</summary>
    public byte Ttl { get; set; }

    /// <summary>IP_TOS.</summary>
    public byte Tos { get; set; }

    /// <summary>SO_RCVBUF: net.inet.udp.recvspace when created; at most kern.ipc.maxsockbuf.</summary>
    public int ReceiveBufferSize
    {
        get => Volatile.Read(ref _rcvHiwat);
        set
        {
            ValidateBufferSize(value);
            lock (_lock)
            {
                _rcvHiwat = value;
            }
        }
    }

    /// <summary>SO_SNDBUF: net.inet.udp.maxdgram when created; a larger datagram is EMSGSIZE.</summary>
    public int SendBufferSize
    {
        get => Volatile.Read(ref _sndHiwat);
        set
        {
            ValidateBufferSize(value);
            Volatile.Write(ref _sndHiwat, value);
        }
    }

    /// <summary>FIONREAD: data bytes queued (all datagrams).</summary>
    public int Available
    {
        get
        {
            lock (_lock)
            {
                return _available;
            }
        }
    }

    /// <summary>Datagrams queued.</summary>
    public int QueuedDatagrams
    {
        get
        {
            lock (_lock)
            {
                return _queued;
            }
        }
    }

    /// <summary>bind(2): port 0 picks an ephemeral port (49152-65535, per vnet).</summary>
    public void Bind(InAddr address, ushort port)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            int error = InVnet(() =>
            {
                if (!address.IsAny && !address.IsMulticast && !InAddrs.IsLocal(address))
                {
                    return Errno.EADDRNOTAVAIL;
                }

                return _table.Bind(_pcb, address, port);
            });
            ThrowOnError(error, "bind");
        }
    }

    /// <summary>connect(2): fixes the peer (sends go there, only its datagrams are received); binds if needed.</summary>
    public void Connect(InAddr address, ushort port)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            int error = InVnet(() =>
            {
                if (port == 0)
                {
                    return Errno.EADDRNOTAVAIL;
                }

                InAddr dst = Udp.RewriteDestination(address);
                PcbEnds ends = _pcb.Ends;
                InAddr local = ends.Local;
                if (local.IsAny)
                {
                    int e = Udp.SelectSource(dst, out local);
                    if (e != 0)
                    {
                        return e;
                    }
                }

                if (!ends.IsBound)
                {
                    int e = _table.Bind(_pcb, InAddr.Any, 0);
                    if (e != 0)
                    {
                        return e;
                    }
                }

                return _table.Connect(_pcb, local, dst, port);
            });
            ThrowOnError(error, "connect");
            _soError = 0;
        }
    }

    /// <summary>connect(2) with AF_UNSPEC: forgets the peer (and, as in BSD, the local address).</summary>
    public void Disconnect()
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if (!_pcb.Ends.IsConnected)
            {
                throw new NetSocketException(Errno.ENOTCONN, "connect");
            }

            _table.Disconnect(_pcb);
        }
    }

    /// <summary>sendto(2): returns the bytes sent. EISCONN on a connected socket; binds an ephemeral port first if needed.</summary>
    public int SendTo(ReadOnlySpan<byte> data, InAddr destination, ushort port) => SendCore(data, destination, port, explicitDestination: true);

    /// <summary>send(2) on a connected socket (ENOTCONN otherwise).</summary>
    public int Send(ReadOnlySpan<byte> data) => SendCore(data, InAddr.Any, 0, explicitDestination: false);

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
    public UdpReceiveResult Receive(Span<byte> buffer, int timeoutMs = Timeout.Infinite)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMs, Timeout.Infinite);
        Mbuf m;
        lock (_lock)
        {
            long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
            while (true)
            {
                ThrowIfClosed();
                if (_head is not null)
                {
                    m = Dequeue();
                    break;
                }

                ThrowPendingError("recvfrom");
                int wait = timeoutMs;
                if (timeoutMs > 0)
                {
                    wait = (int)Math.Max(0, deadline - Environment.TickCount64);
                }

                if (wait == 0)
                {
                    throw new NetSocketException(NetSocketException.EAGAIN, "recvfrom");
                }

                _syncWaiters++;
                try
                {
                    Monitor.Wait(_lock, wait);
                }
                finally
                {
                    _syncWaiters--;
                }
            }
        }

        UdpReceiveResult result = CopyOut(m, buffer);
        m.Free();
        return result;
    }

    /// <summary>
    /// recvfrom(2) without blocking a thread: completes at once when a datagram is queued, otherwise when one
    /// arrives (the datagram is copied straight into <paramref name="buffer"/>). One call may be outstanding at a
    /// time (InvalidOperationException otherwise); awaiting it allocates nothing per datagram (a cancelable token
    /// costs one registration per wait).
    /// </summary>
    public ValueTask<UdpReceiveResult> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Mbuf m;
        lock (_lock)
        {
            if (_asyncOutstanding)
            {
                throw new InvalidOperationException("UdpSocket: another ReceiveFromAsync is already outstanding");
            }

            if (_closed)
            {
                return ValueTask.FromException<UdpReceiveResult>(new ObjectDisposedException(nameof(UdpSocket), _closeReason));
            }

            if (_head is null)
            {
                if (_soError != 0)
                {
                    int error = _soError;
                    _soError = 0;
                    return ValueTask.FromException<UdpReceiveResult>(new NetSocketException(error, "recvfrom"));
                }

                if (cancellationToken.IsCancellationRequested)
                {
                    return ValueTask.FromCanceled<UdpReceiveResult>(cancellationToken);
                }

                _core.Reset();
                _asyncOutstanding = true;
                _asyncWaiting = true;
                _asyncBuffer = buffer;
                _asyncRegistration = cancellationToken.CanBeCanceled
                    ? cancellationToken.UnsafeRegister(CancelCallback, this)
                    : default;
                return new ValueTask<UdpReceiveResult>(this, _core.Version);
            }

            m = Dequeue();
        }

        UdpReceiveResult result = CopyOut(m, buffer.Span);
        m.Free();
        return new ValueTask<UdpReceiveResult>(result);
    }

    /// <summary>close(2): the PCB goes, queued datagrams are freed, waiting receivers get ObjectDisposedException.</summary>
    public void Close() => Shutdown("socket closed", detach: true);

    public void Dispose() => Close();

    public override string ToString()
    {
        PcbEnds e = _pcb.Ends;
        string state = _closed ? "closed" : e.IsConnected ? $"{e.Foreign}:{e.ForeignPort}" : "*:*";
        return $"udp4 {(e.Local.IsAny ? "*" : e.Local.ToString())}:{(e.LocalPort == 0 ? "*" : e.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture))} {state} ({Vnet.Name})";
    }

    /// <summary>The vnet's destructor closes what is left open (udp_destroy).</summary>
    internal void Abort(string reason) => Shutdown($"socket closed: {reason}", detach: false);

    /// <summary>udp_append's socket half (sbappendaddr_locked): queue, hand to a waiting async receive, or refuse when full.</summary>
    internal DeliverResult Deliver(Mbuf m, int payload)
    {
        UdpReceiveResult result;
        CancellationTokenRegistration registration;
        lock (_lock)
        {
            if (_closed)
            {
                return DeliverResult.Closed;
            }

            if (!_asyncWaiting)
            {
                int space = payload + Udp.SockaddrLength;
                if (_sbcc + space > _rcvHiwat || _mbcnt + m.Capacity > (long)_rcvHiwat * UdpSocketLimits.SbEfficiency)
                {
                    return DeliverResult.Full;
                }

                m.NextPacket = null;
                if (_tail is null)
                {
                    _head = m;
                }
                else
                {
                    _tail.NextPacket = m;
                }

                _tail = m;
                _queued++;
                _sbcc += space;
                _available += payload;
                _mbcnt += m.Capacity;
                if (_syncWaiters > 0)
                {
                    Monitor.Pulse(_lock);
                }

                return DeliverResult.Queued;
            }

            result = CopyOut(m, _asyncBuffer.Span);
            registration = TakeAsyncWaiter();
        }

        m.Free();
        registration.Unregister();
        _core.SetResult(result);
        return DeliverResult.Queued;
    }

    /// <summary>udp_notify: so_error for the next receive or send, waking a receiver.</summary>
    internal void Notify(int errno)
    {
        CancellationTokenRegistration registration;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            if (!_asyncWaiting)
            {
                _soError = errno;
                Monitor.PulseAll(_lock);
                return;
            }

            registration = TakeAsyncWaiter();
        }

        registration.Unregister();
        _core.SetException(new NetSocketException(errno, "recvfrom"));
    }

    private void Shutdown(string reason, bool detach)
    {
        Mbuf? queue;
        bool completeAsync;
        CancellationTokenRegistration registration = default;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _closeReason = reason;
            queue = _head;
            _head = _tail = null;
            _queued = _sbcc = _available = _mbcnt = 0;
            completeAsync = _asyncWaiting;
            if (completeAsync)
            {
                registration = TakeAsyncWaiter();
            }

            Monitor.PulseAll(_lock);
        }

        if (detach)
        {
            _table.Detach(_pcb);
        }

        Vnet.RemoveSocket();
        Mbuf.FreeChain(queue);
        if (completeAsync)
        {
            registration.Unregister();
            _core.SetException(new ObjectDisposedException(nameof(UdpSocket), reason));
        }
    }

    private void CancelAsync(CancellationToken token)
    {
        lock (_lock)
        {
            if (!_asyncWaiting)
            {
                return;
            }

            _asyncWaiting = false;
            _asyncBuffer = default;
            _asyncRegistration = default;
        }

        _core.SetException(new OperationCanceledException(token));
    }

    /// <summary>Called under the lock: the waiting async receive is taken (its completion is the caller's).</summary>
    private CancellationTokenRegistration TakeAsyncWaiter()
    {
        CancellationTokenRegistration registration = _asyncRegistration;
        _asyncRegistration = default;
        _asyncWaiting = false;
        _asyncBuffer = default;
        return registration;
    }

    private Mbuf Dequeue()
    {
        Mbuf m = _head!;
        _head = m.NextPacket;
        if (_head is null)
        {
            _tail = null;
        }

        m.NextPacket = null;
        int payload = PayloadLength(m);
        _queued--;
        _sbcc -= payload + Udp.SockaddrLength;
        _available -= payload;
        _mbcnt -= m.Capacity;
        return m;
    }

    private static int PayloadLength(Mbuf m) => m.Length - ((m.Data[0] & 0x0f) * 4) - Udp.HeaderLength;

    /// <summary>soreceive_dgram's copy: the mbuf still holds the IP and UDP headers, which name the sender.</summary>
    private static UdpReceiveResult CopyOut(Mbuf m, Span<byte> buffer)
    {
        ReadOnlySpan<byte> p = m.Data;
        int hlen = (p[0] & 0x0f) * 4;
        InAddr from = InAddr.Read(p[12..]);
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(p[hlen..]);
        ReadOnlySpan<byte> payload = p[(hlen + Udp.HeaderLength)..];
        int n = Math.Min(payload.Length, buffer.Length);
        payload[..n].CopyTo(buffer);
        return new UdpReceiveResult(n, from, port, payload.Length);
    }

    private int SendCore(ReadOnlySpan<byte> data, InAddr destination, ushort port, bool explicitDestination)
    {
        string op = explicitDestination ? "sendto" : "send";
        if (data.Length > Volatile.Read(ref _sndHiwat) || data.Length > IpHeader.MaxPacket - IpHeader.MinLength - Udp.HeaderLength)
        {
            ThrowIfClosed();
            throw new NetSocketException(Errno.EMSGSIZE, op);
        }

        InAddr src;
        ushort sport;
        InAddr dst;
        ushort dport;
        int error;
        lock (_lock)
        {
            ThrowIfClosed();
            ThrowPendingError(op);
            PcbEnds ends = _pcb.Ends;
            if (explicitDestination && ends.IsConnected)
            {
                throw new NetSocketException(Errno.EISCONN, op);
            }

            if (!explicitDestination && !ends.IsConnected)
            {
                throw new NetSocketException(Errno.ENOTCONN, op);
            }

            if (explicitDestination && port == 0)
            {
                throw new NetSocketException(Errno.EADDRNOTAVAIL, op);
            }

            if (!ends.IsBound)
            {
                error = InVnet(() => _table.Bind(_pcb, InAddr.Any, 0));
                ThrowOnError(error, op);
                ends = _pcb.Ends;
            }

            (src, sport) = (ends.Local, ends.LocalPort);
            (dst, dport) = explicitDestination ? (destination, port) : (ends.Foreign, ends.ForeignPort);
        }

        var options = new IpOutputOptions(Ttl: Ttl, Tos: Tos, AllowBroadcast: AllowBroadcast);
        if (!Vnet.TryEnter())
        {
            throw VnetGone();
        }

        try
        {
            using (Curvnet.Set(Vnet))
            {
                if (explicitDestination)
                {
                    dst = Udp.RewriteDestination(dst);
                }

                error = Udp.Output(data, src, sport, dst, dport, options);
            }
        }
        finally
        {
            Vnet.Exit();
        }

        ThrowOnError(error, op);
        return data.Length;
    }

    /// <summary>Runs <paramref name="body"/> inside the socket's vnet, holding it against destruction meanwhile.</summary>
    private int InVnet(Func<int> body)
    {
        if (!Vnet.TryEnter())
        {
            throw VnetGone();
        }

        try
        {
            using (Curvnet.Set(Vnet))
            {
                return body();
            }
        }
        finally
        {
            Vnet.Exit();
        }
    }

    private ObjectDisposedException VnetGone()
        => new(nameof(UdpSocket), $"socket closed: {Vnet} is shutting down or destroyed");

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new ObjectDisposedException(nameof(UdpSocket), _closeReason);
        }
    }

    /// <summary>Called under the lock: so_error is reported once, then cleared.</summary>
    private void ThrowPendingError(string op)
    {
        if (_soError != 0)
        {
            int error = _soError;
            _soError = 0;
            throw new NetSocketException(error, op);
        }
    }

    private static void ThrowOnError(int error, string op)
    {
        if (error != 0)
        {
            throw new NetSocketException(error, op);
        }
    }

    private static void ValidateBufferSize(int value)
    {
        if (value <= 0)
        {
            throw new NetSocketException(Errno.EINVAL, "setsockopt");
        }

        if (value > UdpSocketLimits.MaxSockBuf)
        {
            throw new NetSocketException(Errno.ENOBUFS, "setsockopt");
        }
    }

    UdpReceiveResult IValueTaskSource<UdpReceiveResult>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            lock (_lock)
            {
                _asyncOutstanding = false;
            }
        }
    }

    ValueTaskSourceStatus IValueTaskSource<UdpReceiveResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<UdpReceiveResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
