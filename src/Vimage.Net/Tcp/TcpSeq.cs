namespace Vimage.Net.Tcp;

/// <summary>
/// netinet/tcp_seq.h: sequence numbers compare modulo 2^32 (RFC 9293 §3.4), so SEQ_LT(a, b) is the sign of the
/// 32-bit difference, valid while the two are less than 2^31 apart.
/// </summary>
public static class TcpSeq
{
    /// <summary>SEQ_LT.</summary>
    public static bool Lt(uint a, uint b) => (int)(a - b) < 0;

    /// <summary>SEQ_LEQ.</summary>
    public static bool Leq(uint a, uint b) => (int)(a - b) <= 0;

    /// <summary>SEQ_GT.</summary>
    public static bool Gt(uint a, uint b) => (int)(a - b) > 0;

    /// <summary>SEQ_GEQ.</summary>
    public static bool Geq(uint a, uint b) => (int)(a - b) >= 0;

    /// <summary>SEQ_MIN.</summary>
    public static uint Min(uint a, uint b) => Lt(a, b) ? a : b;

    /// <summary>SEQ_MAX.</summary>
    public static uint Max(uint a, uint b) => Gt(a, b) ? a : b;

    /// <summary>SEQ_DELTA / the distance from <paramref name="from"/> forward to <paramref name="to"/>.</summary>
    public static int Delta(uint to, uint from) => (int)(to - from);
}
