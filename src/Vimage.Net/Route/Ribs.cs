using Vimage.Core;

namespace Vimage.Net.Route;

/// <summary>
/// One address family's routing table as family-independent code sees it (the rib_head of FreeBSD's
/// rt_tables[fib][family]): its entries as <see cref="Nhop"/>s and the purge an interface leaving the vnet needs.
/// </summary>
public interface IRib
{
    SaFamily Family { get; }

    /// <summary>The routes of <paramref name="vnet"/>.</summary>
    IReadOnlyList<Nhop> Entries(Vnet vnet);

    /// <summary>Routes through <paramref name="ifp"/> go with it (current vnet).</summary>
    void PurgeInterface(Ifnet ifp);

    /// <summary>grow_rtables: the current vnet gets tables up to <paramref name="numfibs"/> (never fewer).</summary>
    void Grow(int numfibs);
}

/// <summary>rt_tables: the routing table of each registered family, keyed by family.</summary>
public static class Ribs
{
    private static readonly IRib?[] ByFamily = new IRib?[256];
    private static IRib[] s_all = [];

    /// <summary>All registered tables, in registration order.</summary>
    public static IReadOnlyList<IRib> All => Volatile.Read(ref s_all);

    /// <summary>rt_table_init for a family: one table per family (registering the same table again is harmless).</summary>
    public static void Register(IRib rib)
    {
        ArgumentNullException.ThrowIfNull(rib);
        lock (ByFamily)
        {
            IRib? existing = ByFamily[(byte)rib.Family];
            if (existing == rib)
            {
                return;
            }

            if (existing is not null)
            {
                throw new InvalidOperationException($"route: family {rib.Family} already has a table");
            }

            ByFamily[(byte)rib.Family] = rib;
            Volatile.Write(ref s_all, [.. s_all, rib]);
        }
    }

    /// <summary>The table of <paramref name="family"/>, or null.</summary>
    public static IRib? For(SaFamily family) => Volatile.Read(ref ByFamily[(byte)family]);
}
