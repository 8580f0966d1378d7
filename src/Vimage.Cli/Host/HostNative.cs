using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Vimage.Cli.Host;

/// <summary>The few libc calls the host needs: getuid, the peer's credentials, the descriptor limit, setsid and stdio redirection.</summary>
internal static partial class HostNative
{
    private const int SolSocketLinux = 1;
    private const int SoPeerCredLinux = 17;
    private const int ORdWr = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct Ucred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    public static uint GetUid() => OperatingSystem.IsWindows() ? 0 : getuid();

    /// <summary>The soft RLIMIT_NOFILE; 0 when it cannot be told (or is unlimited).</summary>
    public static unsafe long DescriptorLimit()
    {
        if (OperatingSystem.IsWindows())
        {
            return 0;
        }

        int resource = OperatingSystem.IsLinux() ? 7 : 8; // RLIMIT_NOFILE
        ulong* limit = stackalloc ulong[2];
        return getrlimit(resource, limit) == 0 && limit[0] < int.MaxValue ? (long)limit[0] : 0;
    }

    /// <summary>The uid of the process at the other end of a connected Unix socket; null when it cannot be told.</summary>
    public static unsafe uint? PeerUid(Socket socket)
    {
        bool added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            int fd = (int)socket.SafeHandle.DangerousGetHandle();
            if (OperatingSystem.IsLinux())
            {
                Ucred cred;
                uint length = (uint)sizeof(Ucred);
                return getsockopt(fd, SolSocketLinux, SoPeerCredLinux, &cred, &length) == 0 ? cred.Uid : null;
            }

            if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            {
                uint uid;
                uint gid;
                return getpeereid(fd, &uid, &gid) == 0 ? uid : null;
            }

            return null;
        }
        finally
        {
            if (added)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>Leaves the caller's session and process group, so a Ctrl-C in the terminal that started us does not reach us.</summary>
    public static void Detach()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = setsid();
        }
    }

    /// <summary>Points stdin, stdout and stderr at /dev/null.</summary>
    public static void StdioToDevNull()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = open("/dev/null", ORdWr);
        if (fd < 0)
        {
            return;
        }

        for (int target = 0; target <= 2; target++)
        {
            _ = dup2(fd, target);
        }

        if (fd > 2)
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc")]
    private static partial uint getuid();

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int getsockopt(int sockfd, int level, int optname, void* optval, uint* optlen);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int getpeereid(int sockfd, uint* uid, uint* gid);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsid();

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int getrlimit(int resource, ulong* limit);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
