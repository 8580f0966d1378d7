using Vimage.Net;

namespace Vimage.Packetdrill;

/// <summary>
/// The test interface (tun0, if_tuntap's tun shape: IFT_PPP, point-to-point, raw IPv4, no link header): what the
/// stack transmits is queued for netdev_receive with the virtual instant it left; what netdev_send hands in enters
/// through if_input. The queue is bounded (a stack that floods it loses the excess, counted in IFCOUNTER_OQDROPS).
/// </summary>
internal sealed class PdTun : IIfDriver
{
    public const int MaxQueued = 4096;
    private readonly Queue<(byte[] Packet, long TimeUs)> _queue = new();
    private readonly object _lock = new();

    public string DriverName => "tun";

    public int Queued
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    public int Transmit(Ifnet ifp, Mbuf m)
    {
        byte[] packet = m.Data.ToArray();
        m.Free();
        lock (_lock)
        {
            if (_queue.Count >= MaxQueued)
            {
                ifp.Count(IfCounter.IFCOUNTER_OQDROPS);
                return Errno.ENOBUFS;
            }

            _queue.Enqueue((packet, NetTimers.NowUs));
            Monitor.PulseAll(_lock);
        }

        ifp.CountOutput(packet.Length, multicast: false);
        return 0;
    }

    /// <summary>The next packet the stack sent, waiting up to <paramref name="realWaitMs"/> of real time for one.</summary>
    public bool TryDequeue(int realWaitMs, out byte[] packet, out long timeUs)
    {
        lock (_lock)
        {
            if (_queue.Count == 0 && realWaitMs > 0)
            {
                Monitor.Wait(_lock, realWaitMs);
            }

            if (_queue.Count == 0)
            {
                packet = [];
                timeUs = 0;
                return false;
            }

            (packet, timeUs) = _queue.Dequeue();
            return true;
        }
    }

    public void Init(Ifnet ifp) => ifp.SetRunning(true);

    public void Stop(Ifnet ifp) => ifp.SetRunning(false);

    public void Detach(Ifnet ifp)
    {
        lock (_lock)
        {
            _queue.Clear();
        }
    }
}
