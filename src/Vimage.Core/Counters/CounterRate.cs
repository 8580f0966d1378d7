namespace Vimage.Core;

/// <summary>
/// counter_ratecheck(9): an MP-safe events-per-second limiter (used for ICMP rate limiting). <see cref="Check"/>
/// returns 0 while under the limit, -1 while over it, and, on the first call of a new second after having been
/// over, the number of events counted in the second that ended (so the caller can log "N suppressed").
/// </summary>
public sealed class CounterRate : IDisposable
{
    private readonly Func<long> _clockMs;
    private Counter64 _rate = Counter64.Alloc();
    private long _over;
    private long _secondStartMs;
    private int _lock;

    /// <param name="clockMs">Milliseconds clock; defaults to <see cref="Environment.TickCount64"/>.</param>
    public CounterRate(Func<long>? clockMs = null)
    {
        _clockMs = clockMs ?? (static () => Environment.TickCount64);
        _secondStartMs = _clockMs();
    }

    public long Check(long limit)
    {
        long value = Volatile.Read(ref _over);
        long now = _clockMs();
        if (now - Volatile.Read(ref _secondStartMs) >= 1000)
        {
            if (Volatile.Read(ref _lock) != 0 || Interlocked.CompareExchange(ref _lock, 1, 0) != 0)
            {
                return value; // another thread is resetting; its zeroing is not safe to race with
            }

            try
            {
                if (now - _secondStartMs >= 1000)
                {
                    value = _rate.Fetch();
                    _rate.Zero();
                    Volatile.Write(ref _over, 0);
                    Volatile.Write(ref _secondStartMs, now);
                    if (value <= limit)
                    {
                        value = 0;
                    }
                }
            }
            finally
            {
                Volatile.Write(ref _lock, 0);
            }
        }

        _rate.Add(1);
        if (Volatile.Read(ref _over) != 0)
        {
            return -1;
        }

        if (_rate.Fetch() > limit)
        {
            Volatile.Write(ref _over, -1);
            value = -1;
        }

        return value;
    }

    public void Dispose()
    {
        if (_rate.IsAllocated)
        {
            Counter64.Free(ref _rate);
        }
    }
}
