using System.Runtime.InteropServices;

namespace Vimage.Bench.Net;

/// <summary>The few libc calls the Linux baseline needs (namespaces and AF_PACKET sockets).</summary>
internal static unsafe partial class Native
{
    public const int O_RDONLY = 0;
    public const int O_CLOEXEC = 0x80000;
    public const int CLONE_NEWNET = 0x40000000;
    public const int AF_PACKET = 17;
    public const int SOCK_RAW = 3;
    public const int SOL_SOCKET = 1;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SO_RCVTIMEO = 20;
    public const int SOL_PACKET = 263;
    public const int PACKET_STATISTICS = 6;
    public const int PACKET_FANOUT = 18;
    public const int PACKET_FANOUT_HASH = 0;
    public const ushort ETH_P_ALL = 0x0003;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOBUFS = 105;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol; // network byte order
        public int Ifindex;
        public ushort Hatype;
        public byte Pkttype;
        public byte Halen;
        public fixed byte Addr[8];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TpacketStats
    {
        public uint Packets;
        public uint Drops;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timeval
    {
        public long Sec;
        public long Usec;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, SockaddrLl* addr, int len);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, int len);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, int* len);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buffer, nint length, int flags);

    public static ushort Htons(ushort v) => (ushort)((v << 8) | (v >> 8));

    public static int Errno => Marshal.GetLastPInvokeError();
}

/// <summary>RLIMIT_NOFILE: the tcp mode's 100,000 connections need 200,000 descriptors on the Linux side.</summary>
internal static unsafe partial class Native
{
    private const int RLIMIT_NOFILE = 7;

    /// <summary>
    /// Raises the descriptor limits to <paramref name="limit"/> (needs CAP_SYS_RESOURCE for the hard limit); where
    /// that is refused (EPERM in a container), raises the soft limit to the hard one. Returns the soft limit in force.
    /// </summary>
    public static ulong RaiseNoFileLimit(ulong limit)
    {
        ulong* rl = stackalloc ulong[2];
        if (GetRLimit(RLIMIT_NOFILE, rl) != 0 || (rl[0] >= limit && rl[1] >= limit))
        {
            return rl[0];
        }

        ulong hard = rl[1];
        rl[0] = rl[1] = Math.Max(hard, limit);
        if (SetRLimit(RLIMIT_NOFILE, rl) != 0)
        {
            rl[0] = rl[1] = hard;
            _ = SetRLimit(RLIMIT_NOFILE, rl);
        }

        return NoFileLimit();
    }

    /// <summary>The soft descriptor limit.</summary>
    public static ulong NoFileLimit()
    {
        ulong* rl = stackalloc ulong[2];
        return GetRLimit(RLIMIT_NOFILE, rl) == 0 ? rl[0] : 0;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, ulong* rlim);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, ulong* rlim);
}
