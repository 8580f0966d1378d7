using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>Reads a vnet's counters from outside it.</summary>
internal static class Stats
{
    public static long Ip(Vnet v, IpStat field)
    {
        using (Curvnet.Set(v))
        {
            return Inet.Ip.Fetch(field);
        }
    }

    public static long Arp(Vnet v, ArpStat field)
    {
        using (Curvnet.Set(v))
        {
            return ArpLayer.Fetch(field);
        }
    }
}

/// <summary>Holds the stack's timer clock (NetTimers.NowMs) at a time the test sets, until disposed.</summary>
internal sealed class NetClock : IDisposable
{
    private long _now;

    public NetClock(long now)
    {
        _now = now;
        NetTimers.ClockOverride = () => Volatile.Read(ref _now);
    }

    public long Now
    {
        get => Volatile.Read(ref _now);
        set => Volatile.Write(ref _now, value);
    }

    /// <summary>Sets the time and runs every timer handler once (arptimer, ip_slowtimo) at it.</summary>
    public void TickAt(long now)
    {
        Now = now;
        NetTimers.TickNow();
    }

    public void Dispose() => NetTimers.ClockOverride = null;
}
