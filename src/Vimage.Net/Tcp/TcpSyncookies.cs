using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>The options a SYN cookie carries back (syncookie_lookup's part of struct syncache).</summary>
/// <param name="Mss">sc_peer_mss: the peer's MSS rounded down to tcp_sc_msstab.</param>
/// <param name="WScale">sc_requested_s_scale: the peer's window shift rounded down to tcp_sc_wstab, or -1 without the option.</param>
/// <param name="SackOk">SCF_SACK: the SYN offered SACK.</param>
public readonly record struct SyncookieOptions(int Mss, int WScale, bool SackOk);

/// <summary>
/// SYN cookies (tcp_syncache.c's syncookie_generate / syncookie_lookup / syncookie_mac / syncookie_reseed; RFC 4987
/// §3.6). The ISS we answer a SYN with encodes, under a 24-bit MAC of the 4-tuple, the peer's ISN and the flags:
/// <c>|MAC 24|W 3|M 3|S 1|P 1|</c> with W the window-scale index into tcp_sc_wstab (0: no option), M the MSS index
/// into tcp_sc_msstab, S SACK permitted, P which of the vnet's two secrets keyed the MAC; the 8 flag bits are XORed
/// with the MAC's top byte so they do not show on the wire. The MAC is SipHash-2-4 keyed by a per-vnet 128-bit
/// secret. Every SYNCOOKIE_LIFETIME (15 s of <see cref="NetTimers.NowMs"/>) the older secret is replaced and
/// becomes the current one, so a cookie is accepted for 15 to 30 s, then never. A forged ACK passes with
/// probability 2^-24 per try. Thread-safe; nothing allocated per call (a rotation builds one small object).
/// </summary>
public static partial class TcpSyncookies
{
    /// <summary>SYNCOOKIE_LIFETIME, seconds.</summary>
    public const int SYNCOOKIE_LIFETIME = 15;

    /// <summary>tcp_sc_msstab: the MSS values a cookie can carry (rounded down to one of them).</summary>
    public static ReadOnlySpan<int> MssTable => [216, 536, 1200, 1360, 1400, 1440, 1452, 1460];

    /// <summary>tcp_sc_wstab: the window shifts a cookie can carry; index 0 means no window-scale option.</summary>
    public static ReadOnlySpan<int> WScaleTable => [0, 0, 1, 2, 4, 6, 7, 8];

    private const long LifetimeMs = SYNCOOKIE_LIFETIME * 1000L;

    /// <summary>The two keys and which one is current (tcp_syncache.secret: oddeven, key[2]); replaced whole on reseed.</summary>
    internal sealed class Secrets(uint oddeven, ulong k0a, ulong k0b, ulong k1a, ulong k1b, long reseedAtMs)
    {
        public readonly uint OddEven = oddeven;
        public readonly ulong K0A = k0a, K0B = k0b, K1A = k1a, K1B = k1b;
        public readonly long ReseedAtMs = reseedAtMs;
    }

    [Vnet]
    private static Secrets? s_syncookie_secret;

    [Vnet]
    [Sysctl("net.inet.tcp.syncookies", SysctlFlags.RW | SysctlFlags.VNET, "Use TCP SYN cookies if the syncache overflows", Min = 0, Max = 1)]
    internal static int s_tcp_syncookies = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.syncookies_only", SysctlFlags.RW | SysctlFlags.VNET, "Use only TCP SYN cookies", Min = 0, Max = 1)]
    internal static int s_tcp_syncookiesonly;

    /// <summary>net.inet.tcp.syncookies of the current vnet.</summary>
    public static bool Enabled => V_tcp_syncookies != 0;

    /// <summary>net.inet.tcp.syncookies_only of the current vnet (the syncache keeps no entries, cookies only).</summary>
    public static bool Only => V_tcp_syncookiesonly != 0;

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_ANY)]
    private static void syncookie_init() => V_syncookie_secret = Fresh(NetTimers.NowMs);

    /// <summary>
    /// syncookie_generate: the ISS for a SYN from foreign:fport to local:lport with ISN <paramref name="irs"/>,
    /// offering <paramref name="mss"/>, window shift <paramref name="wscale"/> (-1: no option) and SACK. Counts
    /// tcps_sc_sendcookie.
    /// </summary>
    public static uint Generate(InAddr local, ushort lport, InAddr foreign, ushort fport, uint irs, int mss, int wscale, bool sackOk)
        => Generate(local, lport, foreign, fport, irs, mss, wscale, sackOk, NetTimers.NowMs);

    /// <summary>
    /// syncookie_lookup: checks the ACK <paramref name="th_seq"/>/<paramref name="th_ack"/> (as received: the
    /// handshake's third segment) against the cookie we would have sent to foreign:fport from local:lport, with the
    /// current or the previous secret. On success returns the options the SYN offered and counts tcps_sc_recvcookie;
    /// the connection's irs is th_seq − 1 and iss th_ack − 1.
    /// </summary>
    public static bool TryValidate(InAddr local, ushort lport, InAddr foreign, ushort fport, uint th_seq, uint th_ack, out SyncookieOptions options)
        => TryValidate(local, lport, foreign, fport, th_seq, th_ack, NetTimers.NowMs, out options);

    internal static uint Generate(InAddr local, ushort lport, InAddr foreign, ushort fport, uint irs, int mss, int wscale, bool sackOk, long nowMs)
    {
        Secrets s = Current(nowMs);
        ReadOnlySpan<int> msstab = MssTable, wstab = WScaleTable;
        int m = msstab.Length - 1;
        while (m > 0 && msstab[m] > mss)
        {
            m--;
        }

        int w = 0;
        if (wscale >= 0)
        {
            w = wstab.Length - 1;
            while (w > 0 && wstab[w] > wscale)
            {
                w--;
            }
        }

        uint secbit = s.OddEven & 1;
        uint flags = (uint)(w << 5) | (uint)(m << 2) | (sackOk ? 2u : 0u) | secbit;
        uint hash = Mac(s, secbit, local, lport, foreign, fport, irs, (byte)flags);
        Tcp.Stat(TcpStat.tcps_sc_sendcookie);
        return (hash & ~0xffu) | ((flags ^ (hash >> 24)) & 0xff);
    }

    internal static bool TryValidate(InAddr local, ushort lport, InAddr foreign, ushort fport, uint th_seq, uint th_ack, long nowMs, out SyncookieOptions options)
    {
        Secrets s = Current(nowMs);
        uint ack = th_ack - 1, seq = th_seq - 1;
        uint flags = (ack & 0xff) ^ (ack >> 24);
        uint hash = Mac(s, flags & 1, local, lport, foreign, fport, seq, (byte)flags);
        if ((ack & ~0xffu) != (hash & ~0xffu))
        {
            options = default;
            return false;
        }

        int w = (int)(flags >> 5) & 7;
        options = new SyncookieOptions(MssTable[(int)(flags >> 2) & 7], w == 0 ? -1 : WScaleTable[w], (flags & 2) != 0);
        Tcp.Stat(TcpStat.tcps_sc_recvcookie);
        return true;
    }

    /// <summary>The current secrets, reseeded (syncookie_reseed) when a lifetime has passed.</summary>
    private static Secrets Current(long nowMs)
    {
        Secrets s = Volatile.Read(ref V_syncookie_secret) ?? Install(null, Fresh(nowMs));
        while (nowMs >= s.ReseedAtMs)
        {
            // The idle key gets new random bytes and becomes current; the old current key still validates the
            // cookies it made until the next reseed. Two or more lifetimes late: both keys are new.
            Secrets n = Rotate(s, s.ReseedAtMs + LifetimeMs);
            if (nowMs - s.ReseedAtMs >= LifetimeMs)
            {
                n = Rotate(n, nowMs + LifetimeMs);
            }

            s = Install(s, n);
        }

        return s;
    }

    private static Secrets Install(Secrets? expected, Secrets replacement)
    {
        Secrets? seen = Interlocked.CompareExchange(ref V_syncookie_secret, replacement, expected);
        return ReferenceEquals(seen, expected) ? replacement : seen!;
    }

    private static Secrets Fresh(long nowMs)
    {
        Span<ulong> k = stackalloc ulong[4];
        RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(k));
        return new Secrets(0, k[0], k[1], k[2], k[3], nowMs + LifetimeMs);
    }

    private static Secrets Rotate(Secrets s, long reseedAtMs)
    {
        Span<ulong> k = stackalloc ulong[2];
        RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(k));
        uint oddeven = s.OddEven + 1;
        return (oddeven & 1) == 0
            ? new Secrets(oddeven, k[0], k[1], s.K1A, s.K1B, reseedAtMs)
            : new Secrets(oddeven, s.K0A, s.K0B, k[0], k[1], reseedAtMs);
    }

    /// <summary>syncookie_mac: SipHash-2-4 over faddr, laddr, fport, lport, irs and the flags, truncated to 32 bits.</summary>
    private static uint Mac(Secrets s, uint secbit, InAddr local, ushort lport, InAddr foreign, ushort fport, uint irs, byte flags)
    {
        Span<byte> msg = stackalloc byte[17];
        foreign.Write(msg);
        local.Write(msg[4..]);
        BinaryPrimitives.WriteUInt16BigEndian(msg[8..], fport);
        BinaryPrimitives.WriteUInt16BigEndian(msg[10..], lport);
        BinaryPrimitives.WriteUInt32LittleEndian(msg[12..], irs);
        msg[16] = flags;
        ulong h = secbit == 0 ? SipHash24(s.K0A, s.K0B, msg) : SipHash24(s.K1A, s.K1B, msg);
        return (uint)h ^ (uint)(h >> 32);
    }

    /// <summary>SipHash-2-4 (Aumasson and Bernstein, 2012) of <paramref name="data"/> under the key k0 ‖ k1 (little-endian halves).</summary>
    internal static ulong SipHash24(ulong k0, ulong k1, ReadOnlySpan<byte> data)
    {
        ulong v0 = 0x736f6d6570736575UL ^ k0, v1 = 0x646f72616e646f6dUL ^ k1;
        ulong v2 = 0x6c7967656e657261UL ^ k0, v3 = 0x7465646279746573UL ^ k1;
        int whole = data.Length & ~7;
        for (int i = 0; i < whole; i += 8)
        {
            ulong m = BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
            v3 ^= m;
            Round(ref v0, ref v1, ref v2, ref v3);
            Round(ref v0, ref v1, ref v2, ref v3);
            v0 ^= m;
        }

        ulong last = (ulong)data.Length << 56;
        for (int i = whole; i < data.Length; i++)
        {
            last |= (ulong)data[i] << (8 * (i - whole));
        }

        v3 ^= last;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= last;
        v2 ^= 0xff;
        for (int i = 0; i < 4; i++)
        {
            Round(ref v0, ref v1, ref v2, ref v3);
        }

        return v0 ^ v1 ^ v2 ^ v3;
    }

    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
