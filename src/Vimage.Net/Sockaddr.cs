namespace Vimage.Net;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>sa_family_t (sys/socket.h), with FreeBSD's numbers.</summary>
public enum SaFamily : byte
{
    AF_UNSPEC = 0,
    AF_INET = 2,
    AF_INET6 = 28,
}

/// <summary>
/// A socket address of any family (struct sockaddr_storage, reduced to what the stack uses): the family, a port
/// and up to 16 address bytes (an IPv4 address is the low 32 bits). A value type, so passing one down the output
/// path or into a protocol's user request allocates nothing.
/// </summary>
public readonly record struct Sockaddr(SaFamily Family, ushort Port, UInt128 Address)
{
    public static readonly Sockaddr Unspec = default;
}
