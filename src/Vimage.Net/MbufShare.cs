using Vimage.Core;

namespace Vimage.Net;

/// <summary>
/// One vnet's share of the shared buffer zones: how many clusters and jumbo buffers it holds now, and how many
/// it was refused. An <see cref="Mbuf"/> is charged to the vnet it was allocated in, and moves to the vnet of the
/// interface that receives it (if_input), so whatever a vnet keeps queued — reassembly queues, ARP hold queues,
/// socket buffers, its interfaces' rings — counts against that vnet. The object outlives its vnet while buffers
/// charged to it are still in flight.
/// </summary>
public sealed class MbufAccount
{
    private readonly long[] _held = new long[MbufShare.Zones];
    private long _denied;

    /// <summary>Buffers of <paramref name="pool"/> charged to this vnet now.</summary>
    public long Held(MbufPool pool) => pool.Zone < 0 ? 0 : Interlocked.Read(ref _held[pool.Zone]);

    /// <summary>Allocations and receptions refused because the vnet held its whole share.</summary>
    public long Denied => Interlocked.Read(ref _denied);

    internal bool TryCharge(int zone, long cap)
    {
        if (Interlocked.Increment(ref _held[zone]) <= cap)
        {
            return true;
        }

        Interlocked.Decrement(ref _held[zone]);
        Interlocked.Increment(ref _denied);
        return false;
    }

    internal void Uncharge(int zone) => Interlocked.Decrement(ref _held[zone]);
}

/// <summary>
/// The per-vnet bound on the shared buffer zones. FreeBSD's zones (kern.ipc.nmbclusters) are global and only
/// its per-vnet knobs limit what one vnet queues, and a vnet jail may raise those; here no vnet may hold more than
/// kern.ipc.vnet_mbuf_share percent of a zone, whatever its own settings, so the rest stays for the others. The
/// knob is global: only the host (vnet0) may change it.
/// </summary>
public static partial class MbufShare
{
    /// <summary>Zones with a share: clusters and jumbo buffers.</summary>
    internal const int Zones = 2;

    [Sysctl("kern.ipc.vnet_mbuf_share", SysctlFlags.RW, "Percent of each mbuf cluster zone one vnet may hold", Min = 1, Max = 100)]
    internal static int s_vnet_mbuf_share = 25;

    [Vnet]
    private static MbufAccount s_mbuf_account = new();

    /// <summary>kern.ipc.vnet_mbuf_share.</summary>
    public static int SharePercent => Volatile.Read(ref s_vnet_mbuf_share);

    /// <summary>The account of <paramref name="vnet"/>.</summary>
    public static MbufAccount Of(Vnet vnet) => V_mbuf_account_In(vnet);

    /// <summary>The current vnet's account; none on a thread outside every vnet (a driver's receive thread).</summary>
    internal static MbufAccount? Current => Curvnet.Current is { } vnet ? V_mbuf_account_In(vnet) : null;

    /// <summary>The most buffers of <paramref name="pool"/> one vnet may hold.</summary>
    public static long Cap(MbufPool pool) => Math.Max(1, pool.Limit * SharePercent / 100);

    /// <summary>
    /// if_input's charge: moves <paramref name="m"/> to the current vnet's account. False (nothing changed) when
    /// that vnet holds its whole share; the caller drops the packet and counts it.
    /// </summary>
    internal static bool ChargeToCurrent(Mbuf m)
    {
        MbufPool pool = m.Pool;
        if (pool.Zone < 0 || Current is not { } account || ReferenceEquals(m.Account, account))
        {
            return true;
        }

        if (!account.TryCharge(pool.Zone, Cap(pool)))
        {
            return false;
        }

        m.Account?.Uncharge(pool.Zone);
        m.Account = account;
        return true;
    }
}
