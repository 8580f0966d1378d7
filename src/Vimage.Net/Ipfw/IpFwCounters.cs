using Vimage.Core;

namespace Vimage.Net.Ipfw;

/// <summary>
/// A rule's packet and byte counters, counter(9) style: one cache-line-sized slot per CPU, each CPU adds to its own
/// (an uncontended interlocked add, no lock); readers sum the slots. Managed memory, so a rule deleted while a
/// packet still holds the old chain snapshot is safe without an epoch.
/// </summary>
public sealed class IpFwCounters
{
    private const int Stride = 16; // 128 bytes per CPU: no false sharing between CPUs
    private readonly long[] _slots = new long[CpuId.Count * Stride];

    /// <summary>Last match, in seconds since the Unix epoch (ipfw -t); 0 never.</summary>
    public long Timestamp;

    public void Add(int bytes)
    {
        int cpu = CpuId.Current;
        int i = (uint)cpu < (uint)CpuId.Count ? cpu * Stride : 0;
        Interlocked.Increment(ref _slots[i]);
        Interlocked.Add(ref _slots[i + 1], bytes);
    }

    public long Packets => Sum(0);

    public long Bytes => Sum(1);

    /// <summary>ipfw zero.</summary>
    public void Zero()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            Volatile.Write(ref _slots[i], 0);
        }

        Timestamp = 0;
    }

    private long Sum(int field)
    {
        long total = 0;
        for (int i = field; i < _slots.Length; i += Stride)
        {
            total += Volatile.Read(ref _slots[i]);
        }

        return total;
    }
}
