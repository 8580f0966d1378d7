namespace Vimage.Net.Route;

/// <summary>
/// The family-independent half of a route (net/route/nhop.h's nhop_object): the interface, the RTF_* flags and
/// what they mean. Each family's table derives its entries from it (IPv4: the inet domain's Rtentry), so a
/// new family adds a table and an entry type, not edits here.
/// </summary>
public abstract record Nhop(Ifnet Interface, RtFlags Flags)
{
    /// <summary>rt_fibnum / nh_fibnum: the routing table the route is in.</summary>
    public int Fib { get; init; }

    public bool IsGateway => (Flags & RtFlags.RTF_GATEWAY) != 0;

    public bool IsBlackhole => (Flags & RtFlags.RTF_BLACKHOLE) != 0;

    public bool IsReject => (Flags & RtFlags.RTF_REJECT) != 0;

    /// <summary>A host route (a full-length prefix in its family).</summary>
    public abstract bool IsHost { get; }

    /// <summary>netstat -rn's Flags column: U, G, H, R, B, S in FreeBSD's order.</summary>
    public string FlagsText
    {
        get
        {
            var text = new System.Text.StringBuilder();
            if ((Flags & RtFlags.RTF_UP) != 0)
            {
                text.Append('U');
            }

            if (IsGateway)
            {
                text.Append('G');
            }

            if (IsHost)
            {
                text.Append('H');
            }

            if (IsReject)
            {
                text.Append('R');
            }

            if (IsBlackhole)
            {
                text.Append('B');
            }

            if ((Flags & RtFlags.RTF_STATIC) != 0)
            {
                text.Append('S');
            }

            return text.ToString();
        }
    }
}
