using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vimage.Net;
using Vimage.Net.Inet;

namespace Vimage.Packetdrill;

/// <summary>
/// The Linux ABI packetdrill speaks (it runs on Linux and passes its own constants through): socket option and
/// flag numbers, struct sockaddr_in, and errno, which the stack keeps in FreeBSD's numbering and the caller reads in
/// Linux's (so_testing.c reads errno right after each call).
/// </summary>
internal static unsafe class LinuxAbi
{
    public const int AF_INET = 2;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int IPPROTO_IP = 0;
    public const int IPPROTO_TCP = 6;

    public const int SO_REUSEADDR = 2;
    public const int SO_TYPE = 3;
    public const int SO_ERROR = 4;
    public const int SO_BROADCAST = 6;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_KEEPALIVE = 9;
    public const int SO_LINGER = 13;
    public const int SO_REUSEPORT = 15;
    public const int SO_RCVLOWAT = 18;
    public const int SO_SNDLOWAT = 19;
    public const int SO_ACCEPTCONN = 30;

    public const int TCP_NODELAY = 1;
    public const int TCP_MAXSEG = 2;
    public const int TCP_CORK = 3; // FreeBSD's TCP_NOPUSH is the nearest
    public const int TCP_KEEPIDLE = 4;
    public const int TCP_KEEPINTVL = 5;
    public const int TCP_KEEPCNT = 6;

    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;
    public const int O_RDWR = 2;
    public const ulong FIONREAD = 0x541B;
    public const ulong FIONBIO = 0x5421;

    public const int MSG_PEEK = 0x2;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_WAITALL = 0x100;
    public const int MSG_NOSIGNAL = 0x4000;

    public const short POLLIN = 0x1;
    public const short POLLPRI = 0x2;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;
    public const short POLLRDHUP = 0x2000;

    public const int EBADF = 9;
    public const int EFAULT = 14;
    public const int EINVAL = 22;
    public const int EMFILE = 24;
    public const int ENOTSOCK = 88;
    public const int ENOPROTOOPT = 92;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;
    public const int EAFNOSUPPORT = 97;
    public const int ENOSYS = 38;

    /// <summary>FreeBSD errno (sys/errno.h) → Linux errno (asm-generic/errno.h): 1–34 agree; the socket range moved.</summary>
    public static int ToLinux(int freebsd) => freebsd switch
    {
        35 => 11,   // EAGAIN
        36 => 115,  // EINPROGRESS
        37 => 114,  // EALREADY
        38 => 88,   // ENOTSOCK
        39 => 89,   // EDESTADDRREQ
        40 => 90,   // EMSGSIZE
        41 => 91,   // EPROTOTYPE
        42 => 92,   // ENOPROTOOPT
        43 => 93,   // EPROTONOSUPPORT
        44 => 94,   // ESOCKTNOSUPPORT
        45 => 95,   // EOPNOTSUPP
        46 => 96,   // EPFNOSUPPORT
        47 => 97,   // EAFNOSUPPORT
        48 => 98,   // EADDRINUSE
        49 => 99,   // EADDRNOTAVAIL
        50 => 100,  // ENETDOWN
        51 => 101,  // ENETUNREACH
        52 => 102,  // ENETRESET
        53 => 103,  // ECONNABORTED
        54 => 104,  // ECONNRESET
        55 => 105,  // ENOBUFS
        56 => 106,  // EISCONN
        57 => 107,  // ENOTCONN
        58 => 108,  // ESHUTDOWN
        60 => 110,  // ETIMEDOUT
        61 => 111,  // ECONNREFUSED
        64 => 112,  // EHOSTDOWN
        65 => 113,  // EHOSTUNREACH
        _ => freebsd,
    };

    /// <summary>struct sockaddr_in { sa_family_t (u16, host order); in_port_t (BE); struct in_addr (BE); zero[8] }.</summary>
    public static bool TryReadSockaddrIn(void* addr, uint len, out Sockaddr sa)
    {
        sa = default;
        if (addr == null || len < 16)
        {
            return false;
        }

        var p = new ReadOnlySpan<byte>(addr, 16);
        if (BinaryPrimitives.ReadUInt16LittleEndian(p) != AF_INET)
        {
            return false;
        }

        sa = InAddr.Read(p[4..]).ToSockaddr(BinaryPrimitives.ReadUInt16BigEndian(p[2..]));
        return true;
    }

    /// <summary>Writes <paramref name="sa"/> as a sockaddr_in into (addr, *len), truncating as the kernel does, and sets *len to 16.</summary>
    public static void WriteSockaddrIn(in Sockaddr sa, void* addr, uint* len)
    {
        if (addr == null || len == null)
        {
            return;
        }

        Span<byte> tmp = stackalloc byte[16];
        tmp.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(tmp, AF_INET);
        BinaryPrimitives.WriteUInt16BigEndian(tmp[2..], sa.Port);
        InAddr.From(sa).Write(tmp[4..]);
        int n = (int)Math.Min(*len, 16u);
        tmp[..n].CopyTo(new Span<byte>(addr, n));
        *len = 16;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Len;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal
    {
        public long Sec;
        public long Usec;
    }
}
