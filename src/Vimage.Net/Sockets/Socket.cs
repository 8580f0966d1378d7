using System.Threading.Tasks.Sources;
using Vimage.Core;

namespace Vimage.Net.Sockets;

/// <summary>
/// struct socket (uipc_socket.c) for every family and protocol: the vnet it lives in (so_vnet), its protocol
/// (so_proto) and control block (so_pcb), the send and receive <see cref="SockBuf"/>s, so_error, so_state and
/// SOL_SOCKET options. User calls enter the socket's vnet themselves and reach the protocol through its
/// <see cref="Protosw"/>; protocols deliver with <see cref="AppendAddr"/> and report errors with
/// <see cref="SetError"/>. Receives block (with a timeout) or complete a <see cref="ValueTask{T}"/> backed by
/// this socket (<see cref="IValueTaskSource{T}"/>), so waiting allocates nothing per operation; a waiting
/// async receive gets the next record copied straight into its buffer by the delivering thread. At most one async
/// receive may be outstanding. Errors throw <see cref="NetSocketException"/> with FreeBSD's errno; a closed socket,
/// or one whose vnet is gone, throws <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed partial class Socket : IDisposable, IValueTaskSource<SocketReceiveResult>, IDeferredWakeup
{
    /// <summary>pr_attach's answer when the vnet is being torn down: socket creation fails with ObjectDisposedException.</summary>
    public const int EVnetGone = -2;

    /// <summary>How many SpinWait rounds a blocking receive tries before it sleeps (SemaphoreSlim's count).</summary>
    private const int SpinCount = 35;

    private static readonly Action<object?, CancellationToken> CancelCallback = static (state, token) => ((Socket)state!).CancelAsync(token);

    private readonly object _lock = new();
    private int _syncWaiters;
    private int _soError;
    private bool _closed;
    private string _closeReason = "socket closed";
    private SocketState _state;
    private int _options;
    private long _receiveDrops;

    // The one outstanding async receive: outstanding from the call until GetResult, waiting until a record,
    // an error, cancellation or close takes it. Its continuation runs on the thread pool, except when a user's send
    // delivered the record inline: then it runs when that send returns (SoWakeups), never under a delivery lock —
    // code after an await that blocked there would stall the queue (SocketTests' close-under-traffic test did).
    private ManualResetValueTaskSourceCore<SocketReceiveResult> _core = new() { RunContinuationsAsynchronously = true };
    private SocketReceiveResult _deferredResult;
    private bool _asyncOutstanding;
    private bool _asyncWaiting;
    private Memory<byte> _asyncBuffer;
    private CancellationTokenRegistration _asyncRegistration;

    private Socket(Vnet vnet, Protosw proto, string objectName)
    {
        Fib = FibNum.Current; // socreate: so_fibnum = td->td_proc->p_fibnum
        Vnet = vnet;
        Proto = proto;
        ObjectName = objectName;
    }

    /// <summary>so_vnet.</summary>
    public Vnet Vnet { get; }

    /// <summary>so_fibnum: the routing table of the socket's output (SO_SETFIB); inherited from the caller's fib.</summary>
    public int Fib { get; private set; }

    /// <summary>so_proto.</summary>
    public Protosw Proto { get; }

    /// <summary>so_pcb: the protocol's control block, set by pr_attach.</summary>
    public object? Pcb { get; set; }

    /// <summary>The name closed-socket exceptions carry (the typed wrapper's, e.g. UdpSocket).</summary>
    public string ObjectName { get; }

    /// <summary>so_rcv.</summary>
    public SockBuf Rcv { get; } = new();

    /// <summary>so_snd (datagram sockets only use its limits: a send goes straight to the protocol).</summary>
    public SockBuf Snd { get; } = new();

    /// <summary>The socket lock (SOCK_LOCK, shared with both sockbufs): protocols take it around PCB changes a user call makes.</summary>
    public object SyncRoot => _lock;

    public SockType Type => Proto.Type;

    public SaFamily Family => Proto.Domain?.Family ?? SaFamily.AF_UNSPEC;

    public bool IsClosed => Volatile.Read(ref _closed);

    public SocketState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    public bool IsConnected => (State & SocketState.SS_ISCONNECTED) != 0;

    /// <summary>so_options (SO_REUSEADDR, SO_REUSEPORT, SO_BROADCAST).</summary>
    public SoOptions Options
    {
        get => (SoOptions)Volatile.Read(ref _options);
        set => Volatile.Write(ref _options, (int)value);
    }

    /// <summary>FIONREAD: data bytes queued.</summary>
    public int Available
    {
        get
        {
            lock (_lock)
            {
                return Rcv.Available;
            }
        }
    }

    /// <summary>Records (datagrams) queued.</summary>
    public int QueuedRecords
    {
        get
        {
            lock (_lock)
            {
                return Rcv.Records;
            }
        }
    }

    /// <summary>Records refused because the receive buffer was full (what the protocol counts as udps_fullsock and the like).</summary>
    public long ReceiveDrops => Interlocked.Read(ref _receiveDrops);

    /// <summary>pr_sockaddr.</summary>
    public Sockaddr LocalAddress => Proto.SockAddr(this);

    /// <summary>pr_peeraddr.</summary>
    public Sockaddr RemoteAddress => Proto.PeerAddr(this);

    /// <summary>
    /// socreate: socket(<paramref name="family"/>, <paramref name="type"/>, <paramref name="protocol"/>) in
    /// <paramref name="vnet"/>, counted in vnet_sockcnt. EAFNOSUPPORT, EPROTOTYPE or EPROTONOSUPPORT when no
    /// registered protocol fits.
    /// </summary>
    public static Socket Create(Vnet vnet, SaFamily family, SockType type, int protocol, string objectName = nameof(Socket))
    {
        ArgumentNullException.ThrowIfNull(vnet);
        Domain domain = Domains.Find(family) ?? throw new NetSocketException(Errno.EAFNOSUPPORT, "socket");
        int error = domain.Find(type, protocol, out Protosw? pr);
        if (error != 0)
        {
            throw new NetSocketException(error, "socket");
        }

        if (!vnet.TryEnter())
        {
            throw new ObjectDisposedException(vnet.ToString(), $"socket: {vnet} is shutting down or destroyed");
        }

        try
        {
            using (Curvnet.Set(vnet))
            {
                var so = new Socket(vnet, pr!, objectName);
                error = pr!.Attach(so, protocol);
                if (error == EVnetGone)
                {
                    throw new ObjectDisposedException(vnet.ToString(), $"socket: {vnet} is shutting down");
                }

                if (error != 0)
                {
                    throw new NetSocketException(error, "socket");
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

    /// <summary>soreserve: the buffer limits a protocol starts its sockets with (pr_attach calls this).</summary>
    public void Reserve(int sendSpace, int receiveSpace)
    {
        lock (_lock)
        {
            Snd.Hiwat = sendSpace;
            Rcv.Hiwat = receiveSpace;
        }
    }

    /// <summary>setsockopt(SOL_SOCKET, ...): SO_SNDBUF / SO_RCVBUF (1 to kern.ipc.maxsockbuf), the low-water marks and the flags.</summary>
    public void SetOption(SoOption option, int value)
    {
        switch (option)
        {
            case SoOption.SO_SNDBUF or SoOption.SO_RCVBUF:
                if (value <= 0)
                {
                    throw new NetSocketException(Errno.EINVAL, "setsockopt");
                }

                if (value > SockBuf.MaxSockBuf)
                {
                    throw new NetSocketException(Errno.ENOBUFS, "setsockopt");
                }

                lock (_lock)
                {
                    SockBuf sb = option == SoOption.SO_SNDBUF ? Snd : Rcv;
                    sb.AutoSize = false; // sosetopt clears SB_AUTOSIZE
                    sb.Hiwat = value;
                    sb.Lowat = Math.Min(sb.Lowat, value); // sbreserve keeps lowat <= hiwat
                }

                return;
            case SoOption.SO_SNDLOWAT or SoOption.SO_RCVLOWAT:
                lock (_lock)
                {
                    SockBuf sb = option == SoOption.SO_SNDLOWAT ? Snd : Rcv;
                    sb.Lowat = Math.Clamp(value, 1, Math.Max(1, sb.Hiwat)); // sosetopt clamps to hiwat
                }

                return;
            case SoOption.SO_LINGER:
                LingerSeconds = value;
                return;
            case SoOption.SO_SETFIB:
                // sosetopt: a fib outside the vnet's net.fibs is EINVAL (rt_numfibs check).
                ThrowOnError(InVnet(_ => FibNum.IsValid(value) ? 0 : Errno.EINVAL), "setsockopt");

                Fib = value;
                return;
            case SoOption.SO_REUSEADDR or SoOption.SO_REUSEPORT or SoOption.SO_BROADCAST or SoOption.SO_KEEPALIVE:
                lock (_lock)
                {
                    SoOptions flag = (SoOptions)(int)option;
                    Options = value != 0 ? Options | flag : Options & ~flag;
                }

                return;
            default:
                throw new NetSocketException(Errno.ENOPROTOOPT, "setsockopt");
        }
    }

    /// <summary>getsockopt(SOL_SOCKET, ...); SO_ERROR reads and clears so_error.</summary>
    public int GetOption(SoOption option)
    {
        lock (_lock)
        {
            switch (option)
            {
                case SoOption.SO_SNDBUF:
                    return Snd.Hiwat;
                case SoOption.SO_RCVBUF:
                    return Rcv.Hiwat;
                case SoOption.SO_SNDLOWAT:
                    return Snd.Lowat;
                case SoOption.SO_RCVLOWAT:
                    return Rcv.Lowat;
                case SoOption.SO_TYPE:
                    return (int)Type;
                case SoOption.SO_ERROR:
                    int error = _soError;
                    _soError = 0;
                    return error;
                case SoOption.SO_LINGER:
                    return _lingerSeconds;
                case SoOption.SO_SETFIB:
                    return Fib;
                case SoOption.SO_REUSEADDR or SoOption.SO_REUSEPORT or SoOption.SO_BROADCAST or SoOption.SO_KEEPALIVE or SoOption.SO_ACCEPTCONN:
                    return (Options & (SoOptions)(int)option) != 0 ? 1 : 0;
                default:
                    throw new NetSocketException(Errno.ENOPROTOOPT, "getsockopt");
            }
        }
    }

    /// <summary>setsockopt / getsockopt at a protocol level (pr_ctloutput).</summary>
    public int ProtocolOption(int level, int name, bool set, int value)
    {
        if (Type == SockType.SOCK_STREAM)
        {
            // A stream protocol takes its connection lock (and may send): never under the socket lock.
            lock (_lock)
            {
                ThrowIfClosed();
            }

            int err = InVnet(so => so.Proto.CtlOutput(so, level, name, set, ref value));
            ThrowOnError(err, set ? "setsockopt" : "getsockopt");
            return value;
        }

        lock (_lock)
        {
            ThrowIfClosed();
            int error = Proto.CtlOutput(this, level, name, set, ref value);
            ThrowOnError(error, set ? "setsockopt" : "getsockopt");
            return value;
        }
    }

    /// <summary>bind(2).</summary>
    public void Bind(in Sockaddr nam)
    {
        lock (_lock)
        {
            BindOrConnect(connect: false, in nam);
        }
    }

    /// <summary>connect(2): a datagram socket fixes its peer; a pending so_error is cleared.</summary>
    public void Connect(in Sockaddr nam)
    {
        if (Type == SockType.SOCK_STREAM)
        {
            ConnectStream(in nam);
            return;
        }

        lock (_lock)
        {
            BindOrConnect(connect: true, in nam);
            _state |= SocketState.SS_ISCONNECTED;
            _soError = 0;
        }
    }

    /// <summary>connect(2) with AF_UNSPEC on a datagram socket: forgets the peer (ENOTCONN when there is none).</summary>
    public void Disconnect()
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if ((_state & SocketState.SS_ISCONNECTED) == 0)
            {
                throw new NetSocketException(Errno.ENOTCONN, "connect");
            }

            ThrowOnError(Proto.Disconnect(this), "connect");
            _state &= ~SocketState.SS_ISCONNECTED;
        }
    }

    /// <summary>listen(2).</summary>
    public void Listen(int backlog)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if (Type != SockType.SOCK_STREAM)
            {
                ThrowOnError(Proto.Listen(this, backlog), "listen");
                return;
            }

            if ((_state & (SocketState.SS_ISCONNECTED | SocketState.SS_ISCONNECTING | SocketState.SS_ISDISCONNECTING)) != 0)
            {
                throw new NetSocketException(Errno.EINVAL, "listen");
            }
        }

        // A stream protocol takes its connection lock: never under the socket lock.
        ThrowOnError(InVnet(so => so.Proto.Listen(so, backlog)), "listen");
    }

    /// <summary>
    /// shutdown(2): SHUT_RD frees what is queued and wakes readers (they see end of data), SHUT_WR refuses further
    /// sends (EPIPE) and tells the protocol. Not connected: ENOTCONN, which soshutdown returns for a datagram socket
    /// only after doing the shutdown (FreeBSD keeps that for programs that unblock a reader this way).
    /// </summary>
    public void Shutdown(ShutdownHow how)
    {
        if (Type == SockType.SOCK_STREAM)
        {
            ShutdownStream(how);
            return;
        }

        CancellationTokenRegistration registration = default;
        bool completeAsync = false;
        bool notConnected;
        lock (_lock)
        {
            ThrowIfClosed();
            notConnected = (_state & SocketState.SS_ISCONNECTED) == 0;
            if (notConnected && Type != SockType.SOCK_DGRAM)
            {
                throw new NetSocketException(Errno.ENOTCONN, "shutdown");
            }

            if (how != ShutdownHow.SHUT_WR)
            {
                _state |= SocketState.SS_CANTRCVMORE;
                Mbuf.FreeChain(Rcv.TakeAll());
                completeAsync = _asyncWaiting;
                if (completeAsync)
                {
                    registration = TakeAsyncWaiter();
                }

                Monitor.PulseAll(_lock);
            }

            if (how != ShutdownHow.SHUT_RD)
            {
                _state |= SocketState.SS_CANTSENDMORE;
                Proto.Shutdown(this);
            }
        }

        if (completeAsync)
        {
            registration.Unregister();
            _core.SetResult(new SocketReceiveResult(0, Sockaddr.Unspec, 0));
        }

        if (notConnected)
        {
            throw new NetSocketException(Errno.ENOTCONN, "shutdown");
        }
    }

    /// <summary>sendto(2): one record to <paramref name="to"/>; returns the bytes sent.</summary>
    public int SendTo(ReadOnlySpan<byte> data, in Sockaddr to) => SendCore(data, in to, explicitDestination: true);

    /// <summary>send(2) on a connected socket (ENOTCONN otherwise).</summary>
    public int Send(ReadOnlySpan<byte> data)
        => Type == SockType.SOCK_STREAM ? SendStream(data) : SendCore(data, in Sockaddr.Unspec, explicitDestination: false);

    /// <summary>
    /// recvfrom(2): waits up to <paramref name="timeoutMs"/> (-1 forever, 0 polls) for a record and copies it into
    /// <paramref name="buffer"/> (a longer one is truncated; the result says so). A timeout throws EAGAIN; a
    /// pending so_error is thrown once; after SHUT_RD an empty result (end of data) comes back at once.
    /// </summary>
    public SocketReceiveResult Receive(Span<byte> buffer, int timeoutMs = Timeout.Infinite)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMs, Timeout.Infinite);
        if (Type == SockType.SOCK_STREAM)
        {
            int got = ReceiveStream(buffer, timeoutMs);
            return new SocketReceiveResult(got, RemoteAddress, got);
        }

        Mbuf m;
        bool spun = false;
        lock (_lock)
        {
            long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
            while (true)
            {
                ThrowIfClosed();
                if (Rcv.TakeRecord(SockBuf.SockaddrLength) is { } record)
                {
                    m = record;
                    break;
                }

                ThrowPendingError("recvfrom");
                if ((_state & SocketState.SS_CANTRCVMORE) != 0)
                {
                    return new SocketReceiveResult(0, Sockaddr.Unspec, 0);
                }

                int wait = timeoutMs;
                if (timeoutMs > 0)
                {
                    wait = (int)Math.Max(0, deadline - Environment.TickCount64);
                }

                if (wait == 0)
                {
                    throw new NetSocketException(NetSocketException.EAGAIN, "recvfrom");
                }

                if (!spun)
                {
                    // Spin briefly (yielding the CPU) before sleeping, as SemaphoreSlim does: a reply that is one
                    // queue hop away arrives without the cost of a sleep and a wakeup.
                    spun = true;
                    SpinForDataOutsideLock();
                    continue;
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

        SocketReceiveResult result = CopyOut(m, buffer);
        m.Free();
        return result;
    }

    /// <summary>
    /// recvfrom(2) without blocking a thread: completes at once when a record is queued, otherwise when one arrives
    /// (copied straight into <paramref name="buffer"/>). One call may be outstanding at a time
    /// (InvalidOperationException otherwise); awaiting allocates nothing (a cancelable token costs one registration).
    /// </summary>
    public ValueTask<SocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Mbuf m;
        lock (_lock)
        {
            if (_asyncOutstanding)
            {
                throw new InvalidOperationException($"{ObjectName}: another ReceiveFromAsync is already outstanding");
            }

            if (_closed)
            {
                return ValueTask.FromException<SocketReceiveResult>(new ObjectDisposedException(ObjectName, _closeReason));
            }

            if (Rcv.TakeRecord(SockBuf.SockaddrLength) is not { } record)
            {
                if (_soError != 0)
                {
                    int error = _soError;
                    _soError = 0;
                    return ValueTask.FromException<SocketReceiveResult>(new NetSocketException(error, "recvfrom"));
                }

                if ((_state & SocketState.SS_CANTRCVMORE) != 0)
                {
                    return new ValueTask<SocketReceiveResult>(new SocketReceiveResult(0, Sockaddr.Unspec, 0));
                }

                if (cancellationToken.IsCancellationRequested)
                {
                    return ValueTask.FromCanceled<SocketReceiveResult>(cancellationToken);
                }

                _core.Reset();
                _asyncOutstanding = true;
                _asyncWaiting = true;
                _asyncBuffer = buffer;
                _asyncRegistration = cancellationToken.CanBeCanceled
                    ? cancellationToken.UnsafeRegister(CancelCallback, this)
                    : default;
                return new ValueTask<SocketReceiveResult>(this, _core.Version);
            }

            m = record;
        }

        SocketReceiveResult result = CopyOut(m, buffer.Span);
        m.Free();
        return new ValueTask<SocketReceiveResult>(result);
    }

    /// <summary>The token of the outstanding async receive (for typed wrappers that forward to this source).</summary>
    public short AsyncToken => _core.Version;

    /// <summary>close(2): the protocol closes and detaches, queued records are freed, waiting receivers get ObjectDisposedException.</summary>
    public void Close() => Teardown("socket closed", detach: true);

    public void Dispose() => Close();

    /// <summary>The vnet's protocol destructor closes what is left open (the PCB is already detached).</summary>
    public void Abort(string reason) => Teardown($"socket closed: {reason}", detach: false);

    /// <summary>
    /// sbappendaddr + sorwakeup: queues <paramref name="m"/> (data = the record) from <paramref name="from"/>, or hands
    /// it to a waiting async receive. Full when SO_RCVBUF or the storage limit would be passed (the caller counts and
    /// frees), Closed when the socket is closed or shut for reading (the caller frees).
    /// </summary>
    public SbAppendResult AppendAddr(Mbuf m, in Sockaddr from)
    {
        SocketReceiveResult result;
        CancellationTokenRegistration registration;
        lock (_lock)
        {
            if (_closed || (_state & SocketState.SS_CANTRCVMORE) != 0)
            {
                return SbAppendResult.Closed;
            }

            m.Name = from;
            if (!_asyncWaiting)
            {
                if (!Rcv.HasSpaceFor(m, SockBuf.SockaddrLength))
                {
                    _receiveDrops++;
                    return SbAppendResult.Full;
                }

                Rcv.AppendRecord(m, SockBuf.SockaddrLength);
                if (_syncWaiters > 0)
                {
                    Monitor.Pulse(_lock);
                }

                return SbAppendResult.Queued;
            }

            result = CopyOut(m, _asyncBuffer.Span);
            registration = TakeAsyncWaiter();
        }

        m.Free();
        registration.Unregister();
        _deferredResult = result;
        if (!SoWakeups.TryDefer(this))
        {
            _core.RunContinuationsAsynchronously = true;
            _core.SetResult(result);
        }

        return SbAppendResult.Queued;
    }

    /// <summary>SoWakeups' completion of a receive <see cref="AppendAddr"/> filled: the continuation runs here, inline.</summary>
    void IDeferredWakeup.CompleteDeferred()
    {
        _core.RunContinuationsAsynchronously = false;
        _core.SetResult(_deferredResult);
    }

    /// <summary>so_error + sorwakeup (udp_notify, in_pcbnotifyall): reported once to the next receive or send.</summary>
    public void SetError(int errno)
    {
        CancellationTokenRegistration registration;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            if (Type == SockType.SOCK_STREAM)
            {
                _soError = errno;
                WakeAllLocked();
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

    public override string ToString() => $"{Proto} ({Vnet.Name})";

    private int SendCore(ReadOnlySpan<byte> data, in Sockaddr to, bool explicitDestination)
    {
        string op = explicitDestination ? "sendto" : "send";
        if (data.Length > Snd.Hiwat || data.Length > Proto.MaxRecord)
        {
            ThrowIfClosed();
            throw new NetSocketException(Errno.EMSGSIZE, op);
        }

        lock (_lock)
        {
            ThrowIfClosed();
            ThrowPendingError(op);
            if ((_state & SocketState.SS_CANTSENDMORE) != 0)
            {
                throw new NetSocketException(Errno.EPIPE, op);
            }

            bool connected = (_state & SocketState.SS_ISCONNECTED) != 0;
            if (explicitDestination && connected)
            {
                throw new NetSocketException(Errno.EISCONN, op);
            }

            if (!explicitDestination && !connected)
            {
                throw new NetSocketException(Errno.ENOTCONN, op);
            }
        }

        int error;
        SoWakeups.Enter();
        try
        {
            EnterVnet();
            try
            {
                using (Curvnet.Set(Vnet))
                {
                    error = Proto.Send(this, data, in to);
                }
            }
            finally
            {
                Vnet.Exit();
            }
        }
        finally
        {
            SoWakeups.Exit(); // receivers this send woke continue here, out of the stack and its vnets
        }

        ThrowOnError(error, op);
        return data.Length;
    }

    /// <summary>Called under the lock: pr_bind or pr_connect inside the socket's vnet, held against destruction meanwhile.</summary>
    private void BindOrConnect(bool connect, in Sockaddr nam)
    {
        ThrowIfClosed();
        EnterVnet();
        try
        {
            using (Curvnet.Set(Vnet))
            {
                ThrowOnError(connect ? Proto.Connect(this, nam) : Proto.Bind(this, nam), connect ? "connect" : "bind");
            }
        }
        finally
        {
            Vnet.Exit();
        }
    }

    private void Teardown(string reason, bool detach)
    {
        if (Type == SockType.SOCK_STREAM)
        {
            TeardownStream(reason, detach);
            return;
        }

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
            queue = Rcv.TakeAll();
            completeAsync = _asyncWaiting;
            if (completeAsync)
            {
                registration = TakeAsyncWaiter();
            }

            Monitor.PulseAll(_lock);
        }

        if (detach)
        {
            Proto.Close(this);
            Proto.Detach(this);
        }

        Vnet.RemoveSocket();
        Mbuf.FreeChain(queue);
        if (completeAsync)
        {
            registration.Unregister();
            _core.SetException(new ObjectDisposedException(ObjectName, reason));
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

    /// <summary>soreceive_dgram's copy: the record's data, its sender, and its full length (MSG_TRUNC when larger).</summary>
    private static SocketReceiveResult CopyOut(Mbuf m, Span<byte> buffer)
    {
        ReadOnlySpan<byte> data = m.Data;
        int n = Math.Min(data.Length, buffer.Length);
        data[..n].CopyTo(buffer);
        return new SocketReceiveResult(n, m.Name, data.Length);
    }

    private void EnterVnet()
    {
        if (!Vnet.TryEnter())
        {
            throw new ObjectDisposedException(ObjectName, $"socket closed: {Vnet} is shutting down or destroyed");
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new ObjectDisposedException(ObjectName, _closeReason);
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

    SocketReceiveResult IValueTaskSource<SocketReceiveResult>.GetResult(short token)
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

    ValueTaskSourceStatus IValueTaskSource<SocketReceiveResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<SocketReceiveResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>What recvfrom returned: bytes copied, the sender, and the record's full length (larger: MSG_TRUNC).</summary>
public readonly record struct SocketReceiveResult(int BytesReceived, Sockaddr From, int RecordLength)
{
    public bool Truncated => RecordLength > BytesReceived;
}

/// <summary>sbappendaddr's outcome.</summary>
public enum SbAppendResult
{
    Queued,
    Full,
    Closed,
}
