using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Pfil;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>
/// A pfil hook on a vnet's inbound (or outbound) IPv4 path that drops the TCP segments a predicate picks (the loss a
/// test needs, exactly where it needs it), counting what it dropped. Outbound, ip_output returns EACCES for a dropped
/// segment (ip_output_pfil), so tcp_output backs its sequence advance out. Unlinked on Dispose.
/// </summary>
internal sealed class TcpDropHook : IDisposable
{
    private readonly Vnet _vnet;
    private readonly PfilHook _hook;
    private int _dropped;

    /// <summary>Sees (source port, destination port, flags, payload length); true drops the segment.</summary>
    public TcpDropHook(Vnet vnet, Func<ushort, ushort, TcpFlags, int, bool> drop, PfilDir dir = PfilDir.In)
    {
        _vnet = vnet;
        _hook = (m, ifp, dir, hop) =>
        {
            ReadOnlySpan<byte> p = m.Data;
            if (p.Length < 40 || p[9] != IpProto.Tcp)
            {
                return PfilResult.Pass;
            }

            int hlen = (p[0] & 0xf) * 4;
            ReadOnlySpan<byte> th = p[hlen..];
            int off = (th[12] >> 4) * 4;
            int len = BinaryPrimitives.ReadUInt16BigEndian(p[2..]) - hlen - off;
            if (!drop(BinaryPrimitives.ReadUInt16BigEndian(th), BinaryPrimitives.ReadUInt16BigEndian(th[2..]), (TcpFlags)th[13], len))
            {
                return PfilResult.Pass;
            }

            Interlocked.Increment(ref _dropped);
            m.Free();
            return PfilResult.Dropped;
        };
        using (Curvnet.Set(vnet))
        {
            PfilHeads.Link(_hook, dir);
        }
    }

    public int Dropped => Volatile.Read(ref _dropped);

    public void Dispose()
    {
        if (_vnet.State == VnetState.Live)
        {
            using (Curvnet.Set(_vnet))
            {
                PfilHeads.Unlink(_hook);
            }
        }
    }
}

/// <summary>
/// A virtual microsecond clock for the stack's timers (NetTimers.UsClockOverride): time moves only when the test
/// advances it, and each advance runs the callout wheel, so timer tests are exact and take no wall time.
/// </summary>
internal sealed class VirtualClock : IDisposable
{
    private long _now = NetTimers.RealUs;

    public VirtualClock()
    {
        NetTimers.UsClockOverride = () => Volatile.Read(ref _now);
    }

    public long NowUs => Volatile.Read(ref _now);

    /// <summary>Moves time forward by <paramref name="us"/> and runs what fell due.</summary>
    public void Advance(long us)
    {
        Interlocked.Add(ref _now, us);
        TcpTimerWheel.RunDue();
    }

    /// <summary>Advances in <paramref name="stepUs"/> steps until <paramref name="condition"/> holds (at most <paramref name="maxUs"/>).</summary>
    public bool AdvanceUntil(Func<bool> condition, long stepUs, long maxUs)
    {
        for (long t = 0; t <= maxUs; t += stepUs)
        {
            if (condition())
            {
                return true;
            }

            Advance(stepUs);
        }

        return condition();
    }

    public void Dispose() => NetTimers.UsClockOverride = null;
}

/// <summary>Sets sysctls in a vnet for one test and puts the old values back (vnet0 is shared without VIMAGE).</summary>
internal sealed class SysctlScope : IDisposable
{
    private readonly List<(string Name, Vnet Vnet, object? Old)> _saved = [];

    public SysctlScope Set(string name, int value, params Vnet[] vnets)
    {
        foreach (Vnet v in vnets.Distinct())
        {
            _saved.Add((name, v, Sysctl.Get(name, v)));
            Sysctl.Set(name, value, v);
        }

        return this;
    }

    public void Dispose()
    {
        foreach ((string name, Vnet v, object? old) in Enumerable.Reverse(_saved))
        {
            if (v.State == VnetState.Live && old is not null)
            {
                Sysctl.Set(name, old, v);
            }
        }
    }
}
