namespace Vimage.Net.Bpf;

/// <summary>
/// One listener attached to a <see cref="BpfTap"/> (FreeBSD's <c>bpf_d</c>, a descriptor opened on /dev/bpf).
/// Dispose to detach; the writer it feeds is not disposed.
/// </summary>
/// <remarks>
/// Counters are updated with interlocked operations: several queues may deliver to one session at once. A frame already
/// being delivered when the session is disposed may still reach the writer; none arrives after that.
/// </remarks>
public sealed class BpfSession : IDisposable
{
    private readonly BpfHandler? _handler;
    private volatile bool _attached = true;
    private long _captured;
    private long _bytes;
    private long _dropped;
    private Exception? _error;

    internal BpfSession(BpfTap tap, PcapWriter? writer, BpfHandler? handler, Direction filter)
    {
        Tap = tap;
        Writer = writer;
        _handler = handler;
        Filter = filter;
    }

    /// <summary>The interface hook this session listens on.</summary>
    public BpfTap Tap { get; }

    /// <summary>The pcap file the frames go to, or null for a <see cref="BpfHandler"/> session.</summary>
    public PcapWriter? Writer { get; }

    /// <summary>The directions captured.</summary>
    public Direction Filter { get; }

    /// <summary>False once disposed, detached by <see cref="BpfTap.DetachAll"/>, or detached after its writer threw.</summary>
    public bool IsAttached => _attached;

    /// <summary>Frames handed to the writer successfully.</summary>
    public long PacketsCaptured => Interlocked.Read(ref _captured);

    /// <summary>Bytes of the frames captured (on-wire lengths, before any snaplen truncation).</summary>
    public long BytesCaptured => Interlocked.Read(ref _bytes);

    /// <summary>Frames lost because the writer threw (the session is detached at the first).</summary>
    public long PacketsDropped => Interlocked.Read(ref _dropped);

    /// <summary>The first exception the writer threw, if any.</summary>
    public Exception? Error => Volatile.Read(ref _error);

    /// <summary>Detaches from the tap. Idempotent.</summary>
    public void Dispose()
    {
        if (_attached)
        {
            _attached = false;
            this.Tap.Remove(this);
        }
    }

    public override string ToString() =>
        $"bpf session on {this.Tap.Name ?? "?"} ({Filter}): {PacketsCaptured} captured, {PacketsDropped} dropped" +
        (IsAttached ? "" : ", detached");

    internal void MarkDetached() => _attached = false;

    internal void Deliver(ReadOnlySpan<byte> frame, Direction direction, long unixMicroseconds)
    {
        if ((Filter & direction) == 0 || !_attached)
        {
            return;
        }

        try
        {
            if (Writer is not null)
            {
                Writer.Write(frame, unixMicroseconds);
            }
            else
            {
                _handler!(frame, direction, unixMicroseconds);
            }

            Interlocked.Increment(ref _captured);
            Interlocked.Add(ref _bytes, frame.Length);
        }
        catch (Exception ex)
        {
            // The data path must not fail because a capture did: count the loss, remember why, and stop listening.
            Interlocked.Increment(ref _dropped);
            Interlocked.CompareExchange(ref _error, ex, null);
            Dispose();
        }
    }
}
