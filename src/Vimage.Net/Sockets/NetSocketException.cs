namespace Vimage.Net.Sockets;

/// <summary>
/// A socket call failed with an errno, reported as the C library would print it: "sendto: No route to host".
/// </summary>
public sealed class NetSocketException : Exception
{
    /// <summary>EAGAIN / EWOULDBLOCK: a receive timed out (SO_RCVTIMEO) or would block.</summary>
    public const int EAGAIN = 35;

    public NetSocketException(int errno, string operation)
        : base($"{operation}: {Describe(errno)}")
    {
        Errno = errno;
        Operation = operation;
    }

    public NetSocketException()
        : this(0, "socket")
    {
    }

    public NetSocketException(string message)
        : base(message)
    {
        Operation = "socket";
    }

    public NetSocketException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = "socket";
    }

    /// <summary>FreeBSD's errno value (see <see cref="Vimage.Net.Errno"/>).</summary>
    public int Errno { get; }

    /// <summary>The system call that failed: bind, connect, sendto, send, recvfrom.</summary>
    public string Operation { get; }

    /// <summary>EADDRINUSE and friends.</summary>
    public string ErrnoName => Errno == EAGAIN ? "EAGAIN" : Vimage.Net.Errno.Name(Errno);

    /// <summary>strerror(3), with EAGAIN (which <see cref="Vimage.Net.Errno"/> does not list).</summary>
    public static string Describe(int errno) => errno == EAGAIN ? "Resource temporarily unavailable" : Vimage.Net.Errno.Message(errno);
}
