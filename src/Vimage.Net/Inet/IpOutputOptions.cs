namespace Vimage.Net.Inet;

/// <summary>What a transport asks of ip_output for one datagram.</summary>
public readonly record struct IpOutputOptions(byte Ttl = 0, byte Tos = 0, bool DontFragment = false, bool AllowBroadcast = false)
{
    /// <summary>Leave the TTL to net.inet.ip.ttl.</summary>
    public const byte DefaultTtl = 0;

    /// <summary>The routing table the datagram is routed with (M_SETFIB: the socket's so_fibnum, a reply's rcvif's fib).</summary>
    public int Fib { get; init; }
}
