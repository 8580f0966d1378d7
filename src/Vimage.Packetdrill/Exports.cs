using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Vimage.Packetdrill.LinuxAbi;

namespace Vimage.Packetdrill;

/// <summary>struct packetdrill_interface (packetdrill.h), field for field: userdata then 32 function pointers.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PacketdrillInterface
{
    public void* Userdata;
    public nint Free, Socket, Bind, Listen, Accept, Connect, Read, Readv, Recv, Recvfrom, Recvmsg, Write, Writev, Send,
        Sendto, Sendmsg, Fcntl, Ioctl, Close, Shutdown, Getsockopt, Setsockopt, Poll, NetdevSend, NetdevReceive, Usleep,
        Gettimeofday, EpollCreate, EpollCtl, EpollWait, Pipe, Splice;
}

/// <summary>
/// libvimage_packetdrill.so's entry point, packetdrill_interface_init(flags, ifc), and the C functions it fills in.
/// One stack per process (the stack clock is process-wide): a second init after free starts a new vnet.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static unsafe class Exports
{
    private static readonly Lock Gate = new();
    private static PdStack? s_stack;
    private static PdSockets? s_sockets;
    private static PdSysctlServer? s_sysctl;

    private static readonly PdSockets Uninitialized = new(null);

    /// <summary>The descriptor table; before init (or after free) an empty one whose socket() fails with ENETDOWN.</summary>
    private static PdSockets Fds => s_sockets ?? Uninitialized;

    [UnmanagedCallersOnly(EntryPoint = "packetdrill_interface_init")]
    private static void Init(byte* flags, PacketdrillInterface* ifc)
    {
        string text = flags == null ? "" : Marshal.PtrToStringUTF8((nint)flags) ?? "";
        lock (Gate)
        {
            FreeLocked();
            s_stack = new PdStack(text);
            s_sockets = new PdSockets(s_stack);
            s_sysctl = PdSysctlServer.Start(s_stack);
        }

        *ifc = default;
        ifc->Userdata = (void*)1;
        ifc->Free = (nint)(delegate* unmanaged<void*, void>)&FreeIfc;
        ifc->Socket = (nint)(delegate* unmanaged<void*, int, int, int, int>)&SocketFn;
        ifc->Bind = (nint)(delegate* unmanaged<void*, int, void*, uint, int>)&BindFn;
        ifc->Listen = (nint)(delegate* unmanaged<void*, int, int, int>)&ListenFn;
        ifc->Accept = (nint)(delegate* unmanaged<void*, int, void*, uint*, int>)&AcceptFn;
        ifc->Connect = (nint)(delegate* unmanaged<void*, int, void*, uint, int>)&ConnectFn;
        ifc->Read = (nint)(delegate* unmanaged<void*, int, byte*, nuint, nint>)&ReadFn;
        ifc->Readv = (nint)(delegate* unmanaged<void*, int, IoVec*, int, nint>)&ReadvFn;
        ifc->Recv = (nint)(delegate* unmanaged<void*, int, byte*, nuint, int, nint>)&RecvFn;
        ifc->Recvfrom = (nint)(delegate* unmanaged<void*, int, byte*, nuint, int, void*, uint*, nint>)&RecvfromFn;
        ifc->Recvmsg = (nint)(delegate* unmanaged<void*, int, MsgHdr*, int, nint>)&RecvmsgFn;
        ifc->Write = (nint)(delegate* unmanaged<void*, int, byte*, nuint, nint>)&WriteFn;
        ifc->Writev = (nint)(delegate* unmanaged<void*, int, IoVec*, int, nint>)&WritevFn;
        ifc->Send = (nint)(delegate* unmanaged<void*, int, byte*, nuint, int, nint>)&SendFn;
        ifc->Sendto = (nint)(delegate* unmanaged<void*, int, byte*, nuint, int, void*, uint, nint>)&SendtoFn;
        ifc->Sendmsg = (nint)(delegate* unmanaged<void*, int, MsgHdr*, int, nint>)&SendmsgFn;
        ifc->Fcntl = (nint)(delegate* unmanaged<void*, int, int, long, int>)&FcntlFn;
        ifc->Ioctl = (nint)(delegate* unmanaged<void*, int, ulong, void*, int>)&IoctlFn;
        ifc->Close = (nint)(delegate* unmanaged<void*, int, int>)&CloseFn;
        ifc->Shutdown = (nint)(delegate* unmanaged<void*, int, int, int>)&ShutdownFn;
        ifc->Getsockopt = (nint)(delegate* unmanaged<void*, int, int, int, void*, uint*, int>)&GetsockoptFn;
        ifc->Setsockopt = (nint)(delegate* unmanaged<void*, int, int, int, void*, uint, int>)&SetsockoptFn;
        ifc->Poll = (nint)(delegate* unmanaged<void*, PollFd*, ulong, int, int>)&PollFn;
        ifc->NetdevSend = (nint)(delegate* unmanaged<void*, byte*, nuint, int>)&NetdevSendFn;
        ifc->NetdevReceive = (nint)(delegate* unmanaged<void*, byte*, nuint*, long*, int>)&NetdevReceiveFn;
        ifc->Usleep = (nint)(delegate* unmanaged<void*, uint, int>)&UsleepFn;
        ifc->Gettimeofday = (nint)(delegate* unmanaged<void*, TimeVal*, void*, int>)&GettimeofdayFn;
        ifc->EpollCreate = (nint)(delegate* unmanaged<void*, int, int>)&Unsupported1;
        ifc->EpollCtl = (nint)(delegate* unmanaged<void*, int, int, int, void*, int>)&Unsupported4;
        ifc->EpollWait = (nint)(delegate* unmanaged<void*, int, void*, int, int, int>)&Unsupported4b;
        ifc->Pipe = (nint)(delegate* unmanaged<void*, int*, int>)&UnsupportedPipe;
        ifc->Splice = (nint)(delegate* unmanaged<void*, int, long*, int, long*, nuint, uint, nint>)&UnsupportedSplice;
    }

    private static void FreeLocked()
    {
        s_sysctl?.Dispose();
        s_sockets?.CloseAll();
        if (s_stack is not null && s_stack.Vnet != Vimage.Core.Vnet.Vnet0)
        {
            s_stack.Vnet.Destroy();
        }

        s_stack = null;
        s_sockets = null;
        s_sysctl = null;
    }

    [UnmanagedCallersOnly]
    private static void FreeIfc(void* u)
    {
        lock (Gate)
        {
            FreeLocked();
        }
    }

    [UnmanagedCallersOnly]
    private static int SocketFn(void* u, int domain, int type, int protocol) => Fds.Socket(domain, type, protocol);

    [UnmanagedCallersOnly]
    private static int BindFn(void* u, int fd, void* addr, uint len) => Fds.Bind(fd, addr, len);

    [UnmanagedCallersOnly]
    private static int ListenFn(void* u, int fd, int backlog) => Fds.Listen(fd, backlog);

    [UnmanagedCallersOnly]
    private static int AcceptFn(void* u, int fd, void* addr, uint* len) => Fds.Accept(fd, addr, len);

    [UnmanagedCallersOnly]
    private static int ConnectFn(void* u, int fd, void* addr, uint len) => Fds.Connect(fd, addr, len);

    [UnmanagedCallersOnly]
    private static nint ReadFn(void* u, int fd, byte* buf, nuint count) => (nint)Fds.Receive(fd, Span(buf, count), 0, null, null);

    [UnmanagedCallersOnly]
    private static nint RecvFn(void* u, int fd, byte* buf, nuint count, int flags) => (nint)Fds.Receive(fd, Span(buf, count), flags, null, null);

    [UnmanagedCallersOnly]
    private static nint RecvfromFn(void* u, int fd, byte* buf, nuint count, int flags, void* from, uint* len)
        => (nint)Fds.Receive(fd, Span(buf, count), flags, from, len);

    [UnmanagedCallersOnly]
    private static nint ReadvFn(void* u, int fd, IoVec* iov, int n) => (nint)ReceiveV(fd, iov, n, 0, null, null);

    [UnmanagedCallersOnly]
    private static nint RecvmsgFn(void* u, int fd, MsgHdr* msg, int flags)
    {
        if (msg == null)
        {
            return PdSockets.Fail(EFAULT);
        }

        msg->ControlLen = 0;
        msg->Flags = 0;
        return (nint)ReceiveV(fd, msg->Iov, (int)msg->IovLen, flags, msg->Name, msg->Name == null ? null : &msg->NameLen);
    }

    [UnmanagedCallersOnly]
    private static nint WriteFn(void* u, int fd, byte* buf, nuint count) => (nint)Fds.Send(fd, Span(buf, count), 0, null, 0);

    [UnmanagedCallersOnly]
    private static nint SendFn(void* u, int fd, byte* buf, nuint count, int flags) => (nint)Fds.Send(fd, Span(buf, count), flags, null, 0);

    [UnmanagedCallersOnly]
    private static nint SendtoFn(void* u, int fd, byte* buf, nuint count, int flags, void* to, uint len)
        => (nint)Fds.Send(fd, Span(buf, count), flags, to, len);

    [UnmanagedCallersOnly]
    private static nint WritevFn(void* u, int fd, IoVec* iov, int n) => (nint)SendV(fd, iov, n, 0, null, 0);

    [UnmanagedCallersOnly]
    private static nint SendmsgFn(void* u, int fd, MsgHdr* msg, int flags)
        => msg == null ? PdSockets.Fail(EFAULT) : (nint)SendV(fd, msg->Iov, (int)msg->IovLen, flags, msg->Name, msg->NameLen);

    /// <summary>fcntl(fd, cmd, ...): on x86-64 the variadic argument arrives in the register of a fourth parameter.</summary>
    [UnmanagedCallersOnly]
    private static int FcntlFn(void* u, int fd, int cmd, long arg) => Fds.Fcntl(fd, cmd, arg);

    [UnmanagedCallersOnly]
    private static int IoctlFn(void* u, int fd, ulong request, void* arg) => Fds.Ioctl(fd, request, arg);

    [UnmanagedCallersOnly]
    private static int CloseFn(void* u, int fd) => Fds.Close(fd);

    [UnmanagedCallersOnly]
    private static int ShutdownFn(void* u, int fd, int how) => Fds.Shutdown(fd, how);

    [UnmanagedCallersOnly]
    private static int GetsockoptFn(void* u, int fd, int level, int name, void* value, uint* len) => Fds.GetSockOpt(fd, level, name, value, len);

    [UnmanagedCallersOnly]
    private static int SetsockoptFn(void* u, int fd, int level, int name, void* value, uint len) => Fds.SetSockOpt(fd, level, name, value, len);

    [UnmanagedCallersOnly]
    private static int PollFn(void* u, PollFd* fds, ulong n, int timeout) => Fds.Poll(fds, n, timeout);

    [UnmanagedCallersOnly]
    private static int NetdevSendFn(void* u, byte* buf, nuint count)
    {
        PdStack? stack = s_stack;
        if (stack is null || buf == null || count > 65535)
        {
            return -1;
        }

        try
        {
            return stack.Inject(new ReadOnlySpan<byte>(buf, (int)count));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return -1; // counted nowhere else: the packet did not enter
        }
    }

    [UnmanagedCallersOnly]
    private static int NetdevReceiveFn(void* u, byte* buf, nuint* count, long* timeUsecs)
    {
        PdStack? stack = s_stack;
        if (stack is null || buf == null || count == null)
        {
            return -1;
        }

        byte[] packet;
        long wallUs;
        try
        {
            if (!stack.Receive(out packet, out wallUs))
            {
                *count = 0;
                return 0;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            *count = 0; // "received nothing": packetdrill reports it (a -1 would make it ask again forever)
            return 0;
        }

        if (packet.Length == 0)
        {
            *count = 0;
            return 0;
        }

        int n = (int)Math.Min((ulong)packet.Length, *count);
        packet.AsSpan(0, n).CopyTo(new Span<byte>(buf, n));
        *count = (nuint)n;
        if (timeUsecs != null)
        {
            *timeUsecs = wallUs;
        }

        return 0;
    }

    /// <summary>usleep: virtual time moves by <paramref name="usec"/>, running every timer due on the way.</summary>
    [UnmanagedCallersOnly]
    private static int UsleepFn(void* u, uint usec)
    {
        Vimage.Net.NetTimers.Advance(usec);
        return 0;
    }

    /// <summary>
    /// gettimeofday: the virtual clock. Each reading moves it by one microsecond, so a caller that spins on the
    /// clock (packetdrill's wait_for_event spins the last 20 µs) makes progress.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int GettimeofdayFn(void* u, TimeVal* tv, void* tz)
    {
        PdStack? stack = s_stack;
        if (stack is null || tv == null)
        {
            return PdSockets.Fail(EFAULT);
        }

        Vimage.Net.NetTimers.Advance(1);
        long us = stack.WallUs;
        tv->Sec = us / 1_000_000;
        tv->Usec = us % 1_000_000;
        return 0;
    }

    [UnmanagedCallersOnly]
    private static int Unsupported1(void* u, int a) => PdSockets.Fail(ENOSYS);

    [UnmanagedCallersOnly]
    private static int Unsupported4(void* u, int a, int b, int c, void* d) => PdSockets.Fail(ENOSYS);

    [UnmanagedCallersOnly]
    private static int Unsupported4b(void* u, int a, void* b, int c, int d) => PdSockets.Fail(ENOSYS);

    [UnmanagedCallersOnly]
    private static int UnsupportedPipe(void* u, int* fds) => PdSockets.Fail(ENOSYS);

    [UnmanagedCallersOnly]
    private static nint UnsupportedSplice(void* u, int a, long* b, int c, long* d, nuint e, uint f) => PdSockets.Fail(ENOSYS);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Span<byte> Span(byte* p, nuint n) => p == null ? default : new Span<byte>(p, (int)Math.Min(n, int.MaxValue));

    private static long ReceiveV(int fd, IoVec* iov, int n, int flags, void* from, uint* fromLen)
    {
        if (n < 0 || n > 1024 || (iov == null && n > 0))
        {
            return PdSockets.Fail(EINVAL);
        }

        long total = 0;
        for (int i = 0; i < n; i++)
        {
            total += (long)iov[i].Len;
        }

        byte[] tmp = new byte[Math.Min(total, 1 << 24)];
        long got = Fds.Receive(fd, tmp, flags, from, fromLen);
        long off = 0;
        for (int i = 0; i < n && off < got; i++)
        {
            int k = (int)Math.Min((long)iov[i].Len, got - off);
            tmp.AsSpan((int)off, k).CopyTo(new Span<byte>(iov[i].Base, k));
            off += k;
        }

        return got;
    }

    private static long SendV(int fd, IoVec* iov, int n, int flags, void* to, uint toLen)
    {
        if (n < 0 || n > 1024 || (iov == null && n > 0))
        {
            return PdSockets.Fail(EINVAL);
        }

        var all = new List<byte>();
        for (int i = 0; i < n; i++)
        {
            all.AddRange(new ReadOnlySpan<byte>(iov[i].Base, (int)iov[i].Len));
        }

        return Fds.Send(fd, all.ToArray(), flags, to, toLen);
    }
}
