using System.Runtime.CompilerServices;
using Vimage.Core;

namespace Vimage.Net.Sockets;

/// <summary>
/// Stream sockets (uipc_socket.c, uipc_sockbuf.c for SOCK_STREAM): connection state (soisconnecting,
/// soisconnected, soisdisconnecting, soisdisconnected, socantsendmore, socantrcvmore), the listen queue (solisten_proto,
/// sonewconn with FreeBSD's 1.5× backlog rule, accept), and sosend / soreceive for a byte stream, each blocking (with
/// an optional timeout), nonblocking (SS_NBIO: EWOULDBLOCK, EINPROGRESS) or as a <see cref="ValueTask"/>.
/// <para>
/// Locking: the protocol calls the So* and Sb* methods with its connection lock held (INP_WLOCK, then the socket
/// lock, FreeBSD's order); user calls never hold the socket lock while they call into the protocol. Wakeups pulse
/// blocked threads and complete async waits, whose continuations run on the thread pool, or, when a user's send on
/// this thread fired them, on the sender's thread once that send has left the stack (<see cref="SoWakeups"/>).
/// </para>
/// </summary>
public sealed partial class Socket
{
    /// <summary>What a stream send waits for before it copies more (sb_lowat of so_snd, MCLBYTES).</summary>
    private const int SendLowat = 2048;

    private readonly SoWaiter _rcvWaiter = new();
    private readonly SoWaiter _sndWaiter = new();
    private Queue<Socket>? _comp;
    private int _incqlen;
    private int _qlimit;
    private Socket? _listenHead;
    private int _lingerSeconds = -1;

    /// <summary>SS_NBIO (FIONBIO): calls that would wait fail with EWOULDBLOCK (EAGAIN) and connect with EINPROGRESS.</summary>
    public bool NonBlocking
    {
        get => (State & SocketState.SS_NBIO) != 0;
        set
        {
            lock (_lock)
            {
                _state = value ? _state | SocketState.SS_NBIO : _state & ~SocketState.SS_NBIO;
            }
        }
    }

    /// <summary>SO_ACCEPTCONN: listen(2) was called.</summary>
    public bool IsListening => (Options & SoOptions.SO_ACCEPTCONN) != 0;

    /// <summary>sol_qlen: connections ready for accept.</summary>
    public int AcceptQueueLength
    {
        get
        {
            lock (_lock)
            {
                return _comp?.Count ?? 0;
            }
        }
    }

    /// <summary>sol_qlimit: the backlog listen(2) set (clamped to kern.ipc.soacceptqueue).</summary>
    public int AcceptQueueLimit => Volatile.Read(ref _qlimit);

    /// <summary>SO_LINGER: -1 off; 0 close drops the connection (RST); n > 0 close waits up to n seconds for the data to go.</summary>
    public int LingerSeconds
    {
        get => Volatile.Read(ref _lingerSeconds);
        set
        {
            lock (_lock)
            {
                _lingerSeconds = value < 0 ? -1 : value;
                Options = value < 0 ? Options & ~SoOptions.SO_LINGER : Options | SoOptions.SO_LINGER;
            }
        }
    }

    /// <summary>sbavail(&amp;so_snd): bytes in the send buffer (unacknowledged plus unsent).</summary>
    public int SendQueued
    {
        get
        {
            lock (_lock)
            {
                return Snd.Cc;
            }
        }
    }

    // ---- For the protocol (its connection lock held) ----

    /// <summary>soisconnecting.</summary>
    public void SoIsConnecting()
    {
        lock (_lock)
        {
            _state &= ~(SocketState.SS_ISCONNECTED | SocketState.SS_ISDISCONNECTING);
            _state |= SocketState.SS_ISCONNECTING;
        }
    }

    /// <summary>
    /// soisconnected: wakes connect(2); a connection made from a listener (<see cref="SoNewConn"/>) moves to its
    /// accept queue and wakes accept(2). False when that listener closed meanwhile (the caller drops the connection).
    /// </summary>
    public bool SoIsConnected()
    {
        Socket? head;
        lock (_lock)
        {
            _state &= ~(SocketState.SS_ISCONNECTING | SocketState.SS_ISDISCONNECTING);
            _state |= SocketState.SS_ISCONNECTED;
            head = _listenHead;
            WakeAllLocked();
        }

        if (head is null)
        {
            return true;
        }

        lock (head._lock)
        {
            head._incqlen--;
            if (head._closed || head._comp is null)
            {
                return false;
            }

            head._comp.Enqueue(this);
            head.WakeAllLocked();
        }

        return true;
    }

    /// <summary>soisdisconnecting: no more data either way from the user's side.</summary>
    public void SoIsDisconnecting()
    {
        lock (_lock)
        {
            _state &= ~SocketState.SS_ISCONNECTING;
            _state |= SocketState.SS_ISDISCONNECTING | SocketState.SS_CANTRCVMORE | SocketState.SS_CANTSENDMORE;
            WakeAllLocked();
        }
    }

    /// <summary>soisdisconnected: the connection is gone; what was left to send is dropped.</summary>
    public void SoIsDisconnected()
    {
        lock (_lock)
        {
            _state &= ~(SocketState.SS_ISCONNECTING | SocketState.SS_ISCONNECTED | SocketState.SS_ISDISCONNECTING);
            _state |= SocketState.SS_ISDISCONNECTED | SocketState.SS_CANTRCVMORE | SocketState.SS_CANTSENDMORE;
            Snd.Drop(Snd.Cc);
            WakeAllLocked();
        }
    }

    /// <summary>socantsendmore.</summary>
    public void SoCantSendMore()
    {
        lock (_lock)
        {
            _state |= SocketState.SS_CANTSENDMORE;
            WakeAllLocked();
        }
    }

    /// <summary>socantrcvmore: the peer's FIN; readers see end of data once the buffer is empty.</summary>
    public void SoCantRcvMore()
    {
        lock (_lock)
        {
            _state |= SocketState.SS_CANTRCVMORE;
            WakeAllLocked();
        }
    }

    /// <summary>solisten_proto: the socket becomes a listener with a backlog (clamped to kern.ipc.soacceptqueue).</summary>
    public void SoListenProto(int backlog)
    {
        int max = SoKnobs.SoAcceptQueue;
        lock (_lock)
        {
            _qlimit = backlog < 0 || backlog > max ? max : backlog;
            _comp ??= new Queue<Socket>();
            Options |= SoOptions.SO_ACCEPTCONN;
        }
    }

    /// <summary>
    /// sonewconn: a new socket of the listener's protocol for a connection being made, or null when the accept queue
    /// is over 1.5 × the backlog (FreeBSD's rule: sol_qlen &gt; 3 · sol_qlimit / 2) or the listener is closing. It
    /// inherits the listener's options and buffer sizes; <see cref="SoIsConnected"/> queues it for accept.
    /// </summary>
    public static Socket? SoNewConn(Socket head)
    {
        ArgumentNullException.ThrowIfNull(head);
        SoOptions options;
        int sndHiwat, rcvHiwat, linger;
        bool sndAuto, rcvAuto;
        lock (head._lock)
        {
            if (head._closed || head._comp is null || (head.Options & SoOptions.SO_ACCEPTCONN) == 0)
            {
                return null;
            }

            if (head._comp.Count + head._incqlen > 3 * head._qlimit / 2)
            {
                return null;
            }

            head._incqlen++;
            options = head.Options & ~SoOptions.SO_ACCEPTCONN;
            sndHiwat = head.Snd.Hiwat;
            rcvHiwat = head.Rcv.Hiwat;
            sndAuto = head.Snd.AutoSize;
            rcvAuto = head.Rcv.AutoSize;
            linger = head._lingerSeconds;
        }

        var so = new Socket(head.Vnet, head.Proto, head.ObjectName) { _listenHead = head, _lingerSeconds = linger, Fib = head.Fib };
        so.Options = options;
        int error = head.Proto.Attach(so, head.Proto.Protocol);
        if (error != 0)
        {
            lock (head._lock)
            {
                head._incqlen--;
            }

            return null;
        }

        so.Reserve(sndHiwat, rcvHiwat);
        so.Snd.AutoSize = sndAuto;
        so.Rcv.AutoSize = rcvAuto;
        head.Vnet.AddSocket();
        return so;
    }

    /// <summary>sbappendstream + sorwakeup: in-order data for the reader; freed when the read side is shut.</summary>
    public void SbAppendStream(Mbuf m)
    {
        lock (_lock)
        {
            if (_closed || (_state & SocketState.SS_CANTRCVMORE) != 0)
            {
                m.Free();
                return;
            }

            Rcv.AppendStream(m);
            WakeReadersLocked();
        }
    }

    /// <summary>sbspace(&amp;so_rcv).</summary>
    public int ReceiveSpace
    {
        get
        {
            lock (_lock)
            {
                return Rcv.Space;
            }
        }
    }

    /// <summary>sbappendstream of user data into so_snd (the protocol's pr_send); returns the bytes taken.</summary>
    public int SbAppendSend(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            return Snd.AppendCopy(data);
        }
    }

    /// <summary>sbdrop(&amp;so_snd) of acknowledged bytes + sowwakeup.</summary>
    public void SbDropSend(int n)
    {
        lock (_lock)
        {
            Snd.Drop(n);
            if (Snd.Space >= SendLowat || Snd.Cc == 0)
            {
                WakeWritersLocked();
            }
        }
    }

    /// <summary>m_copydata from so_snd: <paramref name="dst"/>.Length bytes <paramref name="offset"/> bytes after the oldest unacknowledged one.</summary>
    public void SbCopySend(int offset, Span<byte> dst)
    {
        lock (_lock)
        {
            Snd.CopyOut(offset, dst);
        }
    }

    /// <summary>
    /// sbreserve for autotuning (tcp_autorcvbuf / tcp_autosndbuf): grows so_rcv or so_snd to <paramref name="newsize"/>
    /// (at most kern.ipc.maxsockbuf) unless the user fixed its size. Returns the size now.
    /// </summary>
    public int SbAutoGrow(bool receive, int newsize)
    {
        lock (_lock)
        {
            SockBuf sb = receive ? Rcv : Snd;
            if (sb.AutoSize && newsize > sb.Hiwat)
            {
                sb.Hiwat = Math.Min(newsize, SockBuf.MaxSockBuf);
                if (!receive)
                {
                    WakeWritersLocked();
                }
            }

            return sb.Hiwat;
        }
    }

    /// <summary>
    /// tcp_mss's sbreserve: a buffer larger than <paramref name="mss"/> grows to a whole number of segments (at most
    /// kern.ipc.maxsockbuf), whether or not the user set its size; it never shrinks. Returns the size now.
    /// </summary>
    public int SbRoundToMss(bool receive, int mss)
    {
        lock (_lock)
        {
            SockBuf sb = receive ? Rcv : Snd;
            if (mss > 0 && sb.Hiwat > mss)
            {
                long rounded = Math.Min(((long)sb.Hiwat + mss - 1) / mss * mss, SockBuf.MaxSockBuf);
                if (rounded > sb.Hiwat)
                {
                    sb.Hiwat = (int)rounded;
                    if (!receive)
                    {
                        WakeWritersLocked();
                    }
                }
            }

            return sb.Hiwat;
        }
    }

    /// <summary>so_snd's size and use, and whether it may grow (one lock for tcp_autosndbuf's test).</summary>
    public (int Hiwat, int Used, bool Auto) SendBufferState
    {
        get
        {
            lock (_lock)
            {
                return (Snd.Hiwat, Snd.Cc, Snd.AutoSize);
            }
        }
    }

    /// <summary>so_rcv's size and whether it may grow.</summary>
    public (int Hiwat, bool Auto) ReceiveBufferState
    {
        get
        {
            lock (_lock)
            {
                return (Rcv.Hiwat, Rcv.AutoSize);
            }
        }
    }

    // ---- User calls ----

    /// <summary>
    /// connect(2) on a stream socket: starts the connection and, unless nonblocking (EINPROGRESS), waits up to
    /// <paramref name="timeoutMs"/> for it; a refusal or timeout throws the so_error the protocol set (ECONNREFUSED,
    /// ETIMEDOUT). EISCONN when connected, EALREADY while a connect is in progress.
    /// </summary>
    public void ConnectStream(in Sockaddr nam, int timeoutMs = Timeout.Infinite)
    {
        StartConnect(in nam);
        lock (_lock)
        {
            if ((_state & SocketState.SS_NBIO) != 0 && (_state & SocketState.SS_ISCONNECTING) != 0)
            {
                throw new NetSocketException(Errno.EINPROGRESS, "connect");
            }

            long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
            while (true)
            {
                int r = ConnectResultLocked();
                if (r == 0)
                {
                    return;
                }

                if (r > 0)
                {
                    throw new NetSocketException(r, "connect");
                }

                WaitLocked(timeoutMs, deadline, "connect");
            }
        }
    }

    /// <summary>connect(2) without blocking a thread; completes when the connection is established or fails.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ConnectStreamAsync(Sockaddr nam, CancellationToken cancellationToken = default)
    {
        StartConnect(in nam);
        while (true)
        {
            ValueTask wait;
            lock (_lock)
            {
                int r = ConnectResultLocked();
                if (r == 0)
                {
                    return;
                }

                if (r > 0)
                {
                    throw new NetSocketException(r, "connect");
                }

                cancellationToken.ThrowIfCancellationRequested();
                wait = _sndWaiter.Arm("connect", cancellationToken);
            }

            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>accept(2): the next established connection, waiting up to <paramref name="timeoutMs"/> (EAGAIN after; nonblocking: at once).</summary>
    public Socket Accept(int timeoutMs = Timeout.Infinite)
    {
        lock (_lock)
        {
            long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
            while (true)
            {
                if (TryAcceptLocked(out Socket? so, out int error))
                {
                    return so!;
                }

                if (error != 0)
                {
                    throw new NetSocketException(error, "accept");
                }

                WaitLocked(timeoutMs, deadline, "accept");
            }
        }
    }

    /// <summary>accept(2) without blocking a thread. One async accept may be outstanding at a time.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Socket> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ValueTask wait;
            lock (_lock)
            {
                if (TryAcceptLocked(out Socket? so, out int error))
                {
                    return so!;
                }

                if (error != 0)
                {
                    throw new NetSocketException(error, "accept");
                }

                cancellationToken.ThrowIfCancellationRequested();
                wait = _rcvWaiter.Arm("accept", cancellationToken);
            }

            await wait.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// send(2) on a stream socket (sosend_generic): copies all of <paramref name="data"/> into so_snd as space
    /// allows and has the protocol send it, waiting for space (up to <paramref name="timeoutMs"/> each time). Nonblocking: what fits,
    /// or EWOULDBLOCK when nothing does. EPIPE after shutdown(SHUT_WR) or once the connection is gone, ENOTCONN before it exists.
    /// </summary>
    public int SendStream(ReadOnlySpan<byte> data, int timeoutMs = Timeout.Infinite)
    {
        int sent = 0;
        long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
        while (true)
        {
            int room;
            lock (_lock)
            {
                while (true)
                {
                    room = SendRoomLocked(data.Length - sent, sent);
                    if (room > 0 || (room == 0 && sent == data.Length))
                    {
                        break;
                    }

                    if (room == -1)
                    {
                        if ((_state & SocketState.SS_NBIO) != 0)
                        {
                            if (sent > 0)
                            {
                                return sent;
                            }

                            throw new NetSocketException(NetSocketException.EAGAIN, "send");
                        }

                        WaitLocked(timeoutMs, deadline, "send");
                        continue;
                    }

                    if (sent > 0)
                    {
                        return sent; // the error is seen by the next call (so_error stays, or the state does)
                    }

                    throw new NetSocketException(-room, "send");
                }
            }

            if (sent == data.Length)
            {
                return sent;
            }

            sent += ProtocolSend(data.Slice(sent, room));
        }
    }

    /// <summary>send(2) without blocking a thread: completes when all of <paramref name="data"/> is in the send buffer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> SendStreamAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        int sent = 0;
        while (true)
        {
            int room;
            ValueTask wait = default;
            bool waiting = false;
            lock (_lock)
            {
                room = SendRoomLocked(data.Length - sent, sent);
                if (room == -1)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    wait = _sndWaiter.Arm("send", cancellationToken);
                    waiting = true;
                }
                else if (room < -1)
                {
                    if (sent > 0)
                    {
                        return sent;
                    }

                    throw new NetSocketException(-room, "send");
                }
            }

            if (waiting)
            {
                await wait.ConfigureAwait(false);
                continue;
            }

            if (room == 0)
            {
                return sent; // all of it, or as much as a nonblocking socket took
            }

            sent += ProtocolSend(data.Span.Slice(sent, room));
        }
    }

    /// <summary>
    /// recv(2) on a stream socket (soreceive_stream): what is queued, up to <paramref name="buffer"/>.Length, waiting
    /// up to <paramref name="timeoutMs"/> for at least one byte (EAGAIN after). 0 is end of data (the peer's FIN or
    /// SHUT_RD); a connection error (ECONNRESET, ETIMEDOUT) is thrown once the queued data is read.
    /// </summary>
    public int ReceiveStream(Span<byte> buffer, int timeoutMs = Timeout.Infinite) => ReceiveStream(buffer, MsgFlags.None, timeoutMs);

    /// <summary>
    /// recv(2) with flags (soreceive_stream): MSG_PEEK copies without consuming (no window update follows),
    /// MSG_DONTWAIT answers EAGAIN instead of blocking, MSG_WAITALL keeps receiving until <paramref name="buffer"/> is
    /// full, EOF or an error (bytes already received are returned; the error stays pending for the next call).
    /// A timeout with bytes received returns them (kern_recvit drops EWOULDBLOCK after a partial read).
    /// </summary>
    public int ReceiveStream(Span<byte> buffer, MsgFlags flags, int timeoutMs = Timeout.Infinite)
    {
        CheckRecvFlags(flags);
        long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
        int total = 0;
        bool spun = false;
        while (true)
        {
            int n;
            lock (_lock)
            {
                while ((n = TryReceiveLocked(buffer[total..], flags, total > 0)) == -1)
                {
                    if (total > 0 && timeoutMs > 0 && deadline <= Environment.TickCount64)
                    {
                        return total;
                    }

                    if (!spun && timeoutMs != 0)
                    {
                        // As the datagram receive does: a reply one hop away usually lands during a short spin,
                        // which costs far less than a Monitor.Wait sleep and its wake-up.
                        spun = true;
                        SpinForDataOutsideLock();
                        continue;
                    }

                    WaitLocked(timeoutMs, deadline, "recv");
                }
            }

            if (Received(n, flags, ref total, buffer.Length))
            {
                return total;
            }
        }
    }

    /// <summary>recv(2) with flags without blocking a thread (see the blocking overload). One async receive at a time.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveStreamAsync(Memory<byte> buffer, MsgFlags flags, CancellationToken cancellationToken = default)
    {
        CheckRecvFlags(flags);
        int total = 0;
        while (true)
        {
            int n;
            ValueTask wait = default;
            lock (_lock)
            {
                n = TryReceiveLocked(buffer.Span[total..], flags, total > 0);
                if (n == -1)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    wait = _rcvWaiter.Arm("receive", cancellationToken);
                }
            }

            if (n == -1)
            {
                await wait.ConfigureAwait(false);
                continue;
            }

            if (Received(n, flags, ref total, buffer.Length))
            {
                return total;
            }
        }
    }

    /// <summary>
    /// After one delivery of <paramref name="n"/> (or −errno): pr_rcvd unless peeking, and whether the call is over
    /// (anything but MSG_WAITALL, EOF, the buffer full). An error with bytes already received ends it quietly.
    /// </summary>
    private bool Received(int n, MsgFlags flags, ref int total, int length)
    {
        if (n < -1)
        {
            return total > 0 ? true : throw new NetSocketException(-n, "recv");
        }

        if ((flags & MsgFlags.MSG_PEEK) == 0)
        {
            AfterReceive(n);
        }

        total += n;
        return (flags & (MsgFlags.MSG_WAITALL | MsgFlags.MSG_PEEK)) != MsgFlags.MSG_WAITALL || n == 0 || total == length;
    }

    private static void CheckRecvFlags(MsgFlags flags)
    {
        if ((flags & MsgFlags.MSG_OOB) != 0)
        {
            throw new NetSocketException(Errno.EINVAL, "recv"); // tcp_usr_rcvoob: no out-of-band data is kept
        }
    }

    /// <summary>
    /// soreceive_stream's decision under the lock: deliver (bytes copied, consumed unless MSG_PEEK), 0 at EOF, −errno,
    /// or −1 to wait. MSG_WAITALL waits until the request or the buffer's high-water mark is there (or EOF/error).
    /// With <paramref name="partial"/> an error is left pending (the caller returns what it has).
    /// </summary>
    private int TryReceiveLocked(Span<byte> buffer, MsgFlags flags, bool partial)
    {
        ThrowIfClosed();
        if (buffer.Length == 0)
        {
            return 0;
        }

        bool nbio = (_state & SocketState.SS_NBIO) != 0 || (flags & MsgFlags.MSG_DONTWAIT) != 0;
        bool done = _soError != 0 || (_state & SocketState.SS_CANTRCVMORE) != 0;
        int cc = Rcv.Cc;
        if (cc > 0 && ((flags & MsgFlags.MSG_WAITALL) == 0 || nbio || done || cc >= buffer.Length || cc >= Rcv.Hiwat))
        {
            if ((flags & MsgFlags.MSG_PEEK) == 0)
            {
                return Rcv.Read(buffer);
            }

            int n = Math.Min(cc, buffer.Length);
            Rcv.CopyOut(0, buffer[..n]);
            return n;
        }

        if (cc == 0 && _soError != 0)
        {
            int e = _soError;
            if (!partial && (flags & MsgFlags.MSG_PEEK) == 0)
            {
                _soError = 0;
            }

            return -e;
        }

        if (cc == 0 && (_state & SocketState.SS_CANTRCVMORE) != 0)
        {
            return 0;
        }

        if ((_state & (SocketState.SS_ISCONNECTED | SocketState.SS_ISCONNECTING)) == 0)
        {
            return -Errno.ENOTCONN;
        }

        return nbio ? -NetSocketException.EAGAIN : -1;
    }

    /// <summary>recv(2) without blocking a thread. One async receive may be outstanding at a time.</summary>
    public ValueTask<int> ReceiveStreamAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => ReceiveStreamAsync(buffer, MsgFlags.None, cancellationToken);

    /// <summary>pr_shutdown and friends for a stream socket (the protocol called outside the socket lock).</summary>
    private void ShutdownStream(ShutdownHow how)
    {
        Mbuf? flushed = null;
        lock (_lock)
        {
            ThrowIfClosed();
            if ((_state & (SocketState.SS_ISCONNECTED | SocketState.SS_ISCONNECTING | SocketState.SS_ISDISCONNECTING)) == 0)
            {
                throw new NetSocketException(Errno.ENOTCONN, "shutdown");
            }

            if (how != ShutdownHow.SHUT_WR)
            {
                _state |= SocketState.SS_CANTRCVMORE; // sorflush
                flushed = Rcv.TakeAll();
                WakeAllLocked();
            }
        }

        Mbuf.FreeChain(flushed);
        if (how != ShutdownHow.SHUT_RD)
        {
            int error = InVnet(static so => so.Proto.Shutdown(so));
            ThrowOnError(error, "shutdown");
        }
    }

    /// <summary>
    /// soclose for a stream socket: the protocol disconnects (FIN, or RST with SO_LINGER 0); with SO_LINGER n &gt; 0 a
    /// blocking close waits up to n seconds for the disconnect; connections waiting on a listener's queue are aborted.
    /// </summary>
    private void TeardownStream(string reason, bool detach)
    {
        Mbuf? queue;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _closeReason = reason;
            _state |= SocketState.SS_NOFDREF;
            queue = Rcv.TakeAll();
            WakeAllLocked();
        }

        Mbuf.FreeChain(queue);
        if (detach && Vnet.TryEnter())
        {
            try
            {
                using (Curvnet.Set(Vnet))
                {
                    Proto.Close(this);
                }
            }
            finally
            {
                Vnet.Exit();
            }

            int linger = LingerSeconds;
            if (linger > 0 && !NonBlocking)
            {
                lock (_lock)
                {
                    long deadline = Environment.TickCount64 + linger * 1000L;
                    while ((_state & SocketState.SS_ISCONNECTED) != 0)
                    {
                        long left = deadline - Environment.TickCount64;
                        if (left <= 0)
                        {
                            break;
                        }

                        _syncWaiters++;
                        try
                        {
                            Monitor.Wait(_lock, (int)left);
                        }
                        finally
                        {
                            _syncWaiters--;
                        }
                    }
                }
            }
        }

        Socket[] pending = [];
        lock (_lock)
        {
            if (_comp is { Count: > 0 })
            {
                pending = [.. _comp];
                _comp.Clear();
            }
        }

        foreach (Socket child in pending)
        {
            child.AbortQueued();
        }

        if (detach && Vnet.TryEnter())
        {
            try
            {
                using (Curvnet.Set(Vnet))
                {
                    Proto.Detach(this);
                }
            }
            finally
            {
                Vnet.Exit();
            }
        }

        Vnet.RemoveSocket();
    }

    /// <summary>soabort of a connection nobody accepted: the protocol drops it (RST), then the socket closes.</summary>
    private void AbortQueued()
    {
        if (Vnet.TryEnter())
        {
            try
            {
                using (Curvnet.Set(Vnet))
                {
                    Proto.Abort(this);
                }
            }
            finally
            {
                Vnet.Exit();
            }
        }

        TeardownStream("socket closed: aborted on its listener's queue", detach: true);
    }

    private void StartConnect(in Sockaddr nam)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if ((Options & SoOptions.SO_ACCEPTCONN) != 0)
            {
                throw new NetSocketException(Errno.EOPNOTSUPP, "connect");
            }

            if ((_state & SocketState.SS_ISCONNECTED) != 0)
            {
                throw new NetSocketException(Errno.EISCONN, "connect");
            }

            if ((_state & SocketState.SS_ISCONNECTING) != 0)
            {
                throw new NetSocketException(Errno.EALREADY, "connect");
            }

            _soError = 0;
        }

        Sockaddr copy = nam;
        EnterVnet();
        int error;
        try
        {
            using (Curvnet.Set(Vnet))
            {
                error = Proto.Connect(this, copy);
            }
        }
        finally
        {
            Vnet.Exit();
        }

        ThrowOnError(error, "connect");
    }

    /// <summary>Under the lock: 0 connected, -1 still connecting, else the errno to throw (so_error is consumed).</summary>
    private int ConnectResultLocked()
    {
        ThrowIfClosed();
        if ((_state & SocketState.SS_ISCONNECTED) != 0)
        {
            return 0;
        }

        if (_soError != 0)
        {
            int e = _soError;
            _soError = 0;
            return e;
        }

        return (_state & SocketState.SS_ISCONNECTING) != 0 ? -1 : Errno.ECONNREFUSED;
    }

    /// <summary>Under the lock: true with a socket, or false with an errno (0: wait).</summary>
    private bool TryAcceptLocked(out Socket? so, out int error)
    {
        ThrowIfClosed();
        so = null;
        error = 0;
        if ((Options & SoOptions.SO_ACCEPTCONN) == 0 || _comp is null)
        {
            error = Errno.EINVAL;
            return false;
        }

        if (_comp.TryDequeue(out Socket? child))
        {
            lock (child._lock)
            {
                child._listenHead = null;
            }

            so = child;
            return true;
        }

        if (_soError != 0)
        {
            error = _soError;
            _soError = 0;
            return false;
        }

        if ((_state & SocketState.SS_NBIO) != 0)
        {
            error = NetSocketException.EAGAIN;
        }

        return false;
    }

    /// <summary>Under the lock: bytes that may be copied now (&gt; 0), 0 when done, -1 to wait, or -errno.</summary>
    private int SendRoomLocked(int remaining, int sent)
    {
        ThrowIfClosed();
        if ((_state & SocketState.SS_CANTSENDMORE) != 0)
        {
            return -Errno.EPIPE;
        }

        if (_soError != 0)
        {
            int e = _soError;
            _soError = 0;
            return -e;
        }

        if ((_state & SocketState.SS_ISCONNECTED) == 0)
        {
            return -Errno.ENOTCONN;
        }

        if (remaining == 0)
        {
            return 0;
        }

        int space = Snd.Space;
        if (space < Math.Min(remaining, SendLowat))
        {
            return (_state & SocketState.SS_NBIO) != 0 && sent > 0 ? 0 : -1;
        }

        return Math.Min(space, remaining);
    }

    /// <summary>Under the lock: bytes copied (0 = end of data), -1 to wait, or -errno.</summary>
    /// <summary>pr_rcvd after a read: the protocol may open its window.</summary>
    private void AfterReceive(int n)
    {
        if (n > 0)
        {
            InVnet(static so =>
            {
                so.Proto.Rcvd(so);
                return 0;
            });
        }
    }

    /// <summary>pr_send for a stream: the protocol copies into so_snd and sends; returns the bytes it took.</summary>
    private int ProtocolSend(ReadOnlySpan<byte> chunk)
    {
        int error;
        int taken;
        SoWakeups.Enter();
        try
        {
            EnterVnet();
            try
            {
                using (Curvnet.Set(Vnet))
                {
                    error = Proto.SendStream(this, chunk, out taken);
                }
            }
            finally
            {
                Vnet.Exit();
            }
        }
        finally
        {
            SoWakeups.Exit(); // async waits this send fired continue here, out of the stack and its vnets
        }

        if (error != 0 && taken == 0)
        {
            throw new NetSocketException(error, "send");
        }

        return taken;
    }

    private int InVnet(Func<Socket, int> call)
    {
        EnterVnet();
        try
        {
            using (Curvnet.Set(Vnet))
            {
                return call(this);
            }
        }
        finally
        {
            Vnet.Exit();
        }
    }

    /// <summary>Called under the lock: releases it, spins (yielding) until so_rcv has data or the spin ends, retakes it.</summary>
    private void SpinForDataOutsideLock()
    {
        Monitor.Exit(_lock);
        try
        {
            SpinWait spin = default;
            for (int i = 0; i < SpinCount && !Rcv.HasData; i++)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
        finally
        {
            Monitor.Enter(_lock);
        }
    }

    /// <summary>Under the lock: Monitor.Wait until woken or the deadline passes (EAGAIN when it has).</summary>
    private void WaitLocked(int timeoutMs, long deadline, string op)
    {
        int wait = timeoutMs;
        if (timeoutMs > 0)
        {
            wait = (int)Math.Max(0, deadline - Environment.TickCount64);
        }

        if (wait == 0)
        {
            throw new NetSocketException(NetSocketException.EAGAIN, op);
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

    private void WakeReadersLocked()
    {
        if (_syncWaiters > 0)
        {
            Monitor.PulseAll(_lock);
        }

        _rcvWaiter.Fire();
    }

    private void WakeWritersLocked()
    {
        if (_syncWaiters > 0)
        {
            Monitor.PulseAll(_lock);
        }

        _sndWaiter.Fire();
    }

    private void WakeAllLocked()
    {
        Monitor.PulseAll(_lock);
        _rcvWaiter.Fire();
        _sndWaiter.Fire();
    }
}
