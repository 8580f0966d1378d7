using System.Runtime.InteropServices;
using System.Text;

namespace Vimage.Net.Tap;

/// <summary>
/// A Linux TAP interface opened with <c>IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE</c>: one non-blocking file descriptor
/// per queue, each carrying whole Ethernet frames (no packet-information header, no virtio-net header, no offloads,
/// so every frame read has complete checksums and every frame written must too).
/// </summary>
/// <remarks>
/// <para>The device is non-persistent: the kernel removes the interface when the last queue descriptor closes, which
/// <see cref="Dispose"/> does. Bringing the link up and giving it addresses is left to the caller (e.g. <c>ip</c>).</para>
/// <para>Creation is exclusive: the first queue is opened with <c>IFF_TUN_EXCL</c>, so creating a device whose name
/// already exists in the target namespace (another <see cref="TapDevice"/> still open, or any other interface) fails
/// with <see cref="TapException"/> <c>TUNSETIFF failed: EBUSY (16)</c> instead of silently attaching more queues to
/// someone else's device. The remaining queues then attach to the device just created.</para>
/// <para>With a <c>netns</c>, every descriptor is opened from a dedicated thread that has entered that namespace
/// (the namespace a tap lives in is the one of the thread that opened /dev/net/tun); the descriptors then work from
/// any thread and namespace.</para>
/// <para>Thread safety: each queue is meant to be driven by one reader thread; writes may come from any thread (each
/// write(2) is one atomic frame). <see cref="Dispose"/> may race with readers: blocked <see cref="TapQueue.Read"/> and
/// <see cref="ReadAny"/> calls wake at once and throw <see cref="ObjectDisposedException"/>, and a descriptor is closed
/// only after the last call using it returns, so a recycled descriptor number is never touched.</para>
/// </remarks>
public sealed class TapDevice : IDisposable
{
    /// <summary>Largest queue count <see cref="Create"/> accepts (the kernel allows 256).</summary>
    public const int MaxQueues = 16;

    /// <summary>A read buffer this large never truncates: no offloads are enabled, so a frame is at most the largest
    /// MTU a tap accepts plus the Ethernet and VLAN headers, below 64 KiB.</summary>
    public const int MaxFrameSize = 65536;

    /// <summary>Longest interface name (IFNAMSIZ - 1).</summary>
    public const int MaxNameLength = TapNative.IFNAMSIZ - 1;

    private static readonly Lazy<string?> s_unsupportedReason = new(ProbeSupport);

    private readonly TapQueue[] _queues;
    private readonly FdHandle _wake; // eventfd made readable by Dispose: every poll includes it
    private int _disposed;
    private int _nextReadAny;

    private TapDevice(string name, string? netns, int interfaceIndex, TapQueue[] queues, FdHandle wake)
    {
        Name = name;
        Netns = netns;
        InterfaceIndex = interfaceIndex;
        _queues = queues;
        _wake = wake;
        foreach (TapQueue q in queues)
            q.Attach(this);
    }

    /// <summary>The interface name as the kernel reports it (a <c>%d</c> pattern such as <c>vtap%d</c> is resolved).</summary>
    public string Name { get; }

    /// <summary>The network namespace given to <see cref="Create"/>, or null for the caller's namespace.</summary>
    public string? Netns { get; }

    /// <summary>The ifindex inside its namespace (0 if it could not be read).</summary>
    public int InterfaceIndex { get; }

    public int QueueCount => _queues.Length;

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal FdHandle WakeHandle => _wake;

    /// <summary>True when /dev/net/tun can be opened and the process has CAP_NET_ADMIN (or is root).</summary>
    public static bool IsSupported => s_unsupportedReason.Value is null;

    /// <summary>Why <see cref="IsSupported"/> is false (null when supported) — meant for skip messages.</summary>
    public static string? UnsupportedReason => s_unsupportedReason.Value;

    public TapQueue Queue(int index)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if ((uint)index >= (uint)_queues.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"tap {Name} has {_queues.Length} queue(s)");
        return _queues[index];
    }

    /// <summary>
    /// Creates a TAP interface named <paramref name="name"/> with <paramref name="queues"/> queues, inside the named
    /// network namespace <paramref name="netns"/> (a name under /var/run/netns, or a path such as /proc/PID/ns/net),
    /// or in the caller's namespace when null.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty, longer than 15 bytes, or not a valid interface name.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queues"/> is not in 1..<see cref="MaxQueues"/>.</exception>
    /// <exception cref="TapException">A system call failed; the message names the device, the call and the errno
    /// (EBUSY: the name is taken in that namespace; EPERM: no CAP_NET_ADMIN; ENOENT on the netns path: no such namespace).</exception>
    public static TapDevice Create(string name, int queues, string? netns = null)
    {
        ValidateName(name);
        if (queues < 1 || queues > MaxQueues)
            throw new ArgumentOutOfRangeException(nameof(queues), queues, $"tap {name}: queue count must be 1..{MaxQueues}");
        if (netns is null)
            return Open(name, queues, null);
        return NetNamespace.RunCore(netns, () => Open(name, queues, netns),
            (op, errno, hint) => new TapException(name, $"{op} (entering netns {netns})", errno, hint));
    }

    /// <summary>
    /// Reads one frame from whichever queue has one, waiting up to <paramref name="timeoutMs"/> (negative: forever,
    /// 0: just try). Returns the frame length and its queue, or 0 (queue -1) on timeout. Queues are tried round-robin
    /// from the one after the last hit, so a busy queue cannot starve the others. No allocation.
    /// </summary>
    public unsafe int ReadAny(Span<byte> frame, int timeoutMs, out int queue)
    {
        queue = -1;
        int n = _queues.Length;
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        TapNative.PollFd* pfds = stackalloc TapNative.PollFd[MaxQueues + 1];
        int refs = 0;
        bool wakeRef = false;
        try
        {
            for (; refs < n; refs++)
            {
                bool added = false;
                _queues[refs].Handle.DangerousAddRef(ref added);
                pfds[refs].Fd = (int)_queues[refs].Handle.DangerousGetHandle();
                pfds[refs].Events = TapNative.POLLIN;
            }
            _wake.DangerousAddRef(ref wakeRef);
            pfds[n].Fd = (int)_wake.DangerousGetHandle();
            pfds[n].Events = TapNative.POLLIN;

            long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
            int start = _nextReadAny;
            while (true)
            {
                for (int k = 0; k < n; k++)
                {
                    int i = start + k;
                    if (i >= n)
                        i -= n;
                    int len = _queues[i].TryRead(pfds[i].Fd, frame);
                    if (len > 0)
                    {
                        queue = i;
                        _nextReadAny = i + 1 == n ? 0 : i + 1;
                        return len;
                    }
                }
                if (!WaitReadable(pfds, n + 1, deadline, timeoutMs))
                    return 0;
            }
        }
        finally
        {
            if (wakeRef)
                _wake.DangerousRelease();
            for (int i = 0; i < refs; i++)
                _queues[i].Handle.DangerousRelease();
        }
    }

    /// <summary>Polls <paramref name="pfds"/> (the last entry is the wake eventfd) until one is readable or the
    /// deadline passes. False on timeout; throws once the device is disposed or a descriptor reports an error.</summary>
    internal unsafe bool WaitReadable(TapNative.PollFd* pfds, int count, long deadline, int timeoutMs)
    {
        while (true)
        {
            if (IsDisposed)
                throw new ObjectDisposedException(nameof(TapDevice), $"tap {Name} was disposed");
            int wait;
            if (timeoutMs < 0)
                wait = -1;
            else
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                    return false;
                wait = (int)Math.Min(left, int.MaxValue);
            }
            for (int i = 0; i < count; i++)
                pfds[i].Revents = 0;
            int r = TapNative.Poll(pfds, (nuint)count, wait);
            if (r < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == TapNative.EINTR)
                    continue;
                throw new TapException(Name, "poll", errno);
            }
            if (r == 0)
                continue; // re-check the deadline (poll may round down)
            if (pfds[count - 1].Revents != 0 || IsDisposed)
                throw new ObjectDisposedException(nameof(TapDevice), $"tap {Name} was disposed");
            for (int i = 0; i < count - 1; i++)
            {
                short ev = pfds[i].Revents;
                if ((ev & (TapNative.POLLERR | TapNative.POLLNVAL)) != 0)
                    throw new TapException(Name, $"poll (queue {i}, revents 0x{ev:x})",
                        (ev & TapNative.POLLNVAL) != 0 ? TapNative.EBADF : TapNative.EINVAL);
            }
            return true;
        }
    }

    /// <summary>Wakes blocked readers, then closes every queue descriptor (each closes as soon as no call is using
    /// it). Closing the last one makes the kernel delete the interface. Idempotent.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        bool added = false;
        try
        {
            _wake.DangerousAddRef(ref added);
            ulong one = 1;
            _ = TapNative.Write((int)_wake.DangerousGetHandle(), (byte*)&one, sizeof(ulong));
        }
        finally
        {
            if (added)
                _wake.DangerousRelease();
        }
        foreach (TapQueue q in _queues)
            q.Handle.Dispose();
        _wake.Dispose();
    }

    public override string ToString() =>
        $"tap {Name} ({_queues.Length} queue(s){(Netns is null ? "" : $", netns {Netns}")})";

    private static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || Encoding.UTF8.GetByteCount(name) > MaxNameLength)
            throw new ArgumentException($"tap interface name '{name}' must be 1..{MaxNameLength} bytes", nameof(name));
        if (name is "." or "..")
            throw new ArgumentException($"tap interface name '{name}' is not valid", nameof(name));
        foreach (char c in name)
        {
            if (c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c))
                throw new ArgumentException($"tap interface name '{name}' must not contain '/', ':', whitespace or control characters", nameof(name));
        }
    }

    /// <summary>Opens every queue in the current thread's namespace. On failure everything opened is closed.</summary>
    private static unsafe TapDevice Open(string name, int queues, string? netns)
    {
        var handles = new List<FdHandle>(queues + 1);
        try
        {
            string resolved = name;
            for (int i = 0; i < queues; i++)
            {
                int fd = TapNative.Open("/dev/net/tun", TapNative.O_RDWR | TapNative.O_NONBLOCK | TapNative.O_CLOEXEC);
                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new TapException(name, "open /dev/net/tun", errno,
                        errno == TapNative.ENOENT ? "no tun driver: modprobe tun" : null);
                }
                var handle = new FdHandle(fd);
                handles.Add(handle);

                TapNative.IfReq ifr = default;
                int written = Encoding.UTF8.GetBytes(resolved, new Span<byte>(ifr.Name, TapNative.IFNAMSIZ - 1));
                ifr.Name[written] = 0;
                ifr.Flags = (short)(TapNative.IFF_TAP | TapNative.IFF_NO_PI | TapNative.IFF_MULTI_QUEUE
                    | (i == 0 ? TapNative.IFF_TUN_EXCL : 0));
                if (TapNative.Ioctl(fd, TapNative.TUNSETIFF, &ifr) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    string? hint = errno switch
                    {
                        TapNative.EBUSY when i == 0 => "an interface with this name already exists in the network namespace",
                        TapNative.EPERM => "needs CAP_NET_ADMIN",
                        TapNative.EINVAL => "name taken by a device with other flags, or bad name",
                        _ => null,
                    };
                    throw new TapException(resolved, i == 0 ? "TUNSETIFF" : $"TUNSETIFF (queue {i})", errno, hint);
                }
                if (i == 0)
                {
                    var bytes = new ReadOnlySpan<byte>(ifr.Name, TapNative.IFNAMSIZ);
                    int end = bytes.IndexOf((byte)0);
                    resolved = Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
                }
            }

            int wakeFd = TapNative.EventFd(0, TapNative.EFD_NONBLOCK | TapNative.EFD_CLOEXEC);
            if (wakeFd < 0)
                throw new TapException(resolved, "eventfd", Marshal.GetLastPInvokeError());
            var wake = new FdHandle(wakeFd);
            handles.Add(wake);

            int ifindex = (int)TapNative.IfNameToIndex(resolved);
            var q = new TapQueue[queues];
            for (int i = 0; i < queues; i++)
                q[i] = new TapQueue(i, handles[i]);
            return new TapDevice(resolved, netns, ifindex, q, wake);
        }
        catch
        {
            foreach (FdHandle h in handles)
                h.Dispose();
            throw;
        }
    }

    private static string? ProbeSupport()
    {
        if (!OperatingSystem.IsLinux())
            return "TAP devices need Linux";
        try
        {
            int fd = TapNative.Open("/dev/net/tun", TapNative.O_RDWR | TapNative.O_CLOEXEC);
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return $"cannot open /dev/net/tun: {TapNative.Describe(errno)}";
            }
            _ = TapNative.Close(fd);
            if (TapNative.GetEuid() != 0 && !HasCapNetAdmin())
                return "needs root or CAP_NET_ADMIN";
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "libc not loadable: " + e.Message;
        }
    }

    private static bool HasCapNetAdmin()
    {
        const int CAP_NET_ADMIN = 12;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                {
                    ulong caps = Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
                    return (caps & (1UL << CAP_NET_ADMIN)) != 0;
                }
            }
        }
        catch (IOException)
        {
        }
        return false;
    }
}

/// <summary>
/// One queue (one file descriptor) of a <see cref="TapDevice"/>. Reads and writes move exactly one Ethernet frame per
/// system call, on a non-blocking descriptor, without allocating. Counters are updated atomically.
/// </summary>
public sealed class TapQueue
{
    private readonly FdHandle _fd;
    private TapDevice _device = null!;
    private long _rxFrames, _rxBytes, _txFrames, _txBytes, _txErrors, _txAgain;
    private int _lastErrno;

    internal TapQueue(int index, FdHandle fd)
    {
        Index = index;
        _fd = fd;
    }

    internal void Attach(TapDevice device) => _device = device;

    internal FdHandle Handle => _fd;

    public int Index { get; }

    public TapDevice Device => _device;

    public long RxFrames => Volatile.Read(ref _rxFrames);
    public long RxBytes => Volatile.Read(ref _rxBytes);
    public long TxFrames => Volatile.Read(ref _txFrames);
    public long TxBytes => Volatile.Read(ref _txBytes);

    /// <summary>Writes that failed for a reason other than EAGAIN (e.g. EINVAL for a runt frame, EIO).</summary>
    public long TxErrors => Volatile.Read(ref _txErrors);

    /// <summary>Writes refused with EAGAIN (the kernel could not take the frame right now).</summary>
    public long TxAgain => Volatile.Read(ref _txAgain);

    /// <summary>errno of the most recent failed write (0 if none).</summary>
    public int LastErrno => Volatile.Read(ref _lastErrno);

    /// <summary>
    /// Reads one Ethernet frame into <paramref name="frame"/>, waiting up to <paramref name="timeoutMs"/> milliseconds
    /// (negative: forever; 0: just try). Returns the frame length, or 0 on timeout. The buffer must hold the largest
    /// frame (MTU + 14, plus 4 for a VLAN tag): the kernel silently truncates a longer frame to the buffer and drops
    /// the rest, so a result equal to <c>frame.Length</c> may be a cut frame (<see cref="TapDevice.MaxFrameSize"/> is
    /// always enough).
    /// EINTR is retried; EAGAIN after a wakeup (another reader won) waits again. Throws
    /// <see cref="ObjectDisposedException"/> once the device is disposed (also waking a blocked call) and
    /// <see cref="TapException"/> on any other failure.
    /// </summary>
    public unsafe int Read(Span<byte> frame, int timeoutMs)
    {
        if (frame.IsEmpty)
            throw new ArgumentException("frame buffer is empty", nameof(frame));
        FdHandle wake = _device.WakeHandle;
        bool fdRef = false, wakeRef = false;
        try
        {
            _fd.DangerousAddRef(ref fdRef);
            wake.DangerousAddRef(ref wakeRef);
            int fd = (int)_fd.DangerousGetHandle();
            TapNative.PollFd* pfds = stackalloc TapNative.PollFd[2];
            pfds[0].Fd = fd;
            pfds[0].Events = TapNative.POLLIN;
            pfds[1].Fd = (int)wake.DangerousGetHandle();
            pfds[1].Events = TapNative.POLLIN;
            long deadline = timeoutMs < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMs;
            while (true)
            {
                int len = TryRead(fd, frame);
                if (len > 0)
                    return len;
                if (!_device.WaitReadable(pfds, 2, deadline, timeoutMs))
                    return 0;
            }
        }
        catch (ObjectDisposedException) when (!fdRef || !wakeRef)
        {
            throw new ObjectDisposedException(nameof(TapDevice), $"tap {_device.Name} was disposed");
        }
        finally
        {
            if (wakeRef)
                wake.DangerousRelease();
            if (fdRef)
                _fd.DangerousRelease();
        }
    }

    /// <summary>One non-blocking read(2): the frame length, or 0 when nothing is queued (EAGAIN).</summary>
    internal unsafe int TryRead(int fd, Span<byte> frame)
    {
        fixed (byte* p = frame)
        {
            while (true)
            {
                nint n = TapNative.Read(fd, p, (nuint)frame.Length);
                if (n > 0)
                {
                    Interlocked.Increment(ref _rxFrames);
                    Interlocked.Add(ref _rxBytes, n);
                    return (int)n;
                }
                if (n == 0)
                    return 0;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == TapNative.EINTR)
                    continue;
                if (errno == TapNative.EAGAIN)
                    return 0;
                throw new TapException(_device.Name, $"read (queue {Index})", errno);
            }
        }
    }

    /// <summary>
    /// Writes one Ethernet frame with one write(2). Returns false — and counts it in <see cref="TxAgain"/> or
    /// <see cref="TxErrors"/>, recording <see cref="LastErrno"/> — if the kernel refused it (EIO while the link is
    /// down, EINVAL for a frame shorter than an Ethernet header); EINTR is retried.
    /// Throws only <see cref="ObjectDisposedException"/> after <see cref="TapDevice.Dispose"/>.
    /// </summary>
    public unsafe bool Write(ReadOnlySpan<byte> frame)
    {
        bool fdRef = false;
        try
        {
            try
            {
                _fd.DangerousAddRef(ref fdRef);
            }
            catch (ObjectDisposedException)
            {
                throw new ObjectDisposedException(nameof(TapDevice), $"tap {_device.Name} was disposed");
            }
            int fd = (int)_fd.DangerousGetHandle();
            fixed (byte* p = frame)
            {
                while (true)
                {
                    nint n = TapNative.Write(fd, p, (nuint)frame.Length);
                    if (n == frame.Length)
                    {
                        Interlocked.Increment(ref _txFrames);
                        Interlocked.Add(ref _txBytes, n);
                        return true;
                    }
                    int errno = n < 0 ? Marshal.GetLastPInvokeError() : TapNative.EINVAL; // short write: never for tap
                    if (errno == TapNative.EINTR)
                        continue;
                    Volatile.Write(ref _lastErrno, errno);
                    if (errno == TapNative.EAGAIN)
                        Interlocked.Increment(ref _txAgain);
                    else
                        Interlocked.Increment(ref _txErrors);
                    return false;
                }
            }
        }
        finally
        {
            if (fdRef)
                _fd.DangerousRelease();
        }
    }

    public override string ToString() => $"tap {_device.Name} queue {Index}";
}

/// <summary>A reference-counted file descriptor: close(2) runs only once no call holds a reference.</summary>
internal sealed class FdHandle : SafeHandle
{
    public FdHandle(int fd)
        : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(new IntPtr(fd));
    }

    public override bool IsInvalid => handle == new IntPtr(-1);

    protected override bool ReleaseHandle() => TapNative.Close((int)handle) == 0;
}
