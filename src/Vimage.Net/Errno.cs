namespace Vimage.Net;

/// <summary>The errno values the stack returns (FreeBSD's numbers).</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int ENOBUFS = 55;
    public const int EACCES = 13;
    public const int EINVAL = 22;
    public const int EMSGSIZE = 40;
    public const int EADDRINUSE = 48;
    public const int EADDRNOTAVAIL = 49;
    public const int ENETDOWN = 50;
    public const int ENETUNREACH = 51;
    public const int EISCONN = 56;
    public const int ENOTCONN = 57;
    public const int ETIMEDOUT = 60;
    public const int ECONNREFUSED = 61;
    public const int EHOSTDOWN = 64;
    public const int EHOSTUNREACH = 65;
    public const int EDESTADDRREQ = 39;
    public const int EEXIST = 17;
    public const int EPIPE = 32;
    public const int EPROTOTYPE = 41;
    public const int ENOPROTOOPT = 42;
    public const int EPROTONOSUPPORT = 43;
    public const int EOPNOTSUPP = 45;
    public const int EAFNOSUPPORT = 47;
    public const int EINPROGRESS = 36;
    public const int EALREADY = 37;
    public const int ECONNABORTED = 53;
    public const int ECONNRESET = 54;

    public static string Name(int errno) => errno switch
    {
        0 => "OK",
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        ENOBUFS => "ENOBUFS",
        EACCES => "EACCES",
        EINVAL => "EINVAL",
        EMSGSIZE => "EMSGSIZE",
        EADDRINUSE => "EADDRINUSE",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        ENETDOWN => "ENETDOWN",
        ENETUNREACH => "ENETUNREACH",
        EISCONN => "EISCONN",
        ENOTCONN => "ENOTCONN",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        EHOSTDOWN => "EHOSTDOWN",
        EHOSTUNREACH => "EHOSTUNREACH",
        EDESTADDRREQ => "EDESTADDRREQ",
        EEXIST => "EEXIST",
        EPIPE => "EPIPE",
        EPROTOTYPE => "EPROTOTYPE",
        ENOPROTOOPT => "ENOPROTOOPT",
        EPROTONOSUPPORT => "EPROTONOSUPPORT",
        EOPNOTSUPP => "EOPNOTSUPP",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        EINPROGRESS => "EINPROGRESS",
        EALREADY => "EALREADY",
        ECONNABORTED => "ECONNABORTED",
        ECONNRESET => "ECONNRESET",
        _ => $"errno {errno}",
    };

    /// <summary>strerror(3).</summary>
    public static string Message(int errno) => errno switch
    {
        ESRCH => "No such process",
        ENOBUFS => "No buffer space available",
        EACCES => "Permission denied",
        EINVAL => "Invalid argument",
        EMSGSIZE => "Message too long",
        EADDRINUSE => "Address already in use",
        EADDRNOTAVAIL => "Can't assign requested address",
        ENETDOWN => "Network is down",
        ENETUNREACH => "Network is unreachable",
        EISCONN => "Socket is already connected",
        ENOTCONN => "Socket is not connected",
        ETIMEDOUT => "Operation timed out",
        ECONNREFUSED => "Connection refused",
        EHOSTDOWN => "Host is down",
        EHOSTUNREACH => "No route to host",
        EDESTADDRREQ => "Destination address required",
        EEXIST => "File exists",
        EPIPE => "Broken pipe",
        EPROTOTYPE => "Protocol wrong type for socket",
        ENOPROTOOPT => "Protocol not available",
        EPROTONOSUPPORT => "Protocol not supported",
        EOPNOTSUPP => "Operation not supported",
        EAFNOSUPPORT => "Address family not supported by protocol family",
        EINPROGRESS => "Operation now in progress",
        EALREADY => "Operation already in progress",
        ECONNABORTED => "Software caused connection abort",
        ECONNRESET => "Connection reset by peer",
        _ => Name(errno),
    };
}
