namespace Vimage.Net.Netdb;

/// <summary>
/// getaddrinfo(3) failed: <see cref="Error"/> is the EAI_* code (netdb.h) and the message is gai_strerror's, prefixed
/// with the name looked up, as the FreeBSD tools print it ("server: hostname nor servname provided, or not known").
/// </summary>
public sealed class NetdbException : Exception
{
    /// <summary>EAI_AGAIN (netdb.h): temporary failure in name resolution.</summary>
    public const int EAI_AGAIN = 2;

    /// <summary>EAI_FAIL: non-recoverable failure in name resolution.</summary>
    public const int EAI_FAIL = 4;

    /// <summary>EAI_NONAME: the name is not known.</summary>
    public const int EAI_NONAME = 8;

    public NetdbException(int error, string name)
        : base($"{name}: {GaiStrerror(error)}")
    {
        Error = error;
        Name = name;
    }

    public NetdbException()
        : this(EAI_NONAME, "")
    {
    }

    public NetdbException(string message)
        : base(message)
    {
        Name = "";
    }

    public NetdbException(string message, Exception innerException)
        : base(message, innerException)
    {
        Name = "";
    }

    /// <summary>The EAI_* code.</summary>
    public int Error { get; }

    /// <summary>The host name that was looked up.</summary>
    public string Name { get; }

    /// <summary>gai_strerror(3) (lib/libc/net/gai_strerror.c).</summary>
    public static string GaiStrerror(int error) => error switch
    {
        EAI_AGAIN => "Temporary failure in name resolution",
        EAI_FAIL => "Non-recoverable failure in name resolution",
        EAI_NONAME => "hostname nor servname provided, or not known",
        _ => "Unknown error",
    };
}
