using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_new_isn (netinet/tcp_subr.c, RFC 6528): ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
/// M a clock ticking every 4 µs and F a keyed hash with a per-vnet random secret (V_isn_secret), so sequence
/// numbers of different connections (and vnets) are unpredictable while one 4-tuple's ISNs keep increasing.
/// FreeBSD keys SipHash-2-4; here SHA-256 over the tuple and secret (RFC 6528 asks for any keyed PRF).
/// </summary>
public static partial class Tcp
{
    private const int IsnSecretLength = 32;

    [Vnet]
    private static byte[]? s_isn_secret;

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_ANY)]
    private static void tcp_isn_init() => V_isn_secret = RandomNumberGenerator.GetBytes(IsnSecretLength);

    /// <summary>RFC 6528's M: 4 µs ticks of a monotonic clock.</summary>
    internal static uint IsnClock() => (uint)(Stopwatch.GetTimestamp() * 250_000 / Stopwatch.Frequency);

    /// <summary>tcp_new_isn for the connection local:lport → foreign:fport in the current vnet.</summary>
    public static uint NewIsn(InAddr local, ushort lport, InAddr foreign, ushort fport)
        => NewIsn(local, lport, foreign, fport, IsnClock());

    /// <summary>tcp_new_isn at clock <paramref name="ticks"/> (4 µs units); tests pass their own clock.</summary>
    internal static uint NewIsn(InAddr local, ushort lport, InAddr foreign, ushort fport, uint ticks)
    {
        byte[] secret = V_isn_secret ?? throw new InvalidOperationException("tcp: the vnet has no ISN secret");
        Span<byte> input = stackalloc byte[12 + IsnSecretLength];
        local.Write(input);
        foreign.Write(input[4..]);
        BinaryPrimitives.WriteUInt16BigEndian(input[8..], lport);
        BinaryPrimitives.WriteUInt16BigEndian(input[10..], fport);
        secret.CopyTo(input[12..]);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, digest);
        return BinaryPrimitives.ReadUInt32LittleEndian(digest) + ticks;
    }
}
