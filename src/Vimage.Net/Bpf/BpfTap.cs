using System.Runtime.CompilerServices;

namespace Vimage.Net.Bpf;

/// <summary>Which way a frame crossed the interface (FreeBSD's BPF_D_IN / BPF_D_OUT / BPF_D_INOUT).</summary>
[Flags]
public enum Direction
{
    /// <summary>Received by the interface.</summary>
    In = 1,

    /// <summary>Transmitted by the interface.</summary>
    Out = 2,

    /// <summary>Both ways (a session filter only; <see cref="BpfTap.Tap"/> is told In or Out).</summary>
    Both = In | Out,
}

/// <summary>A capture listener that is not a pcap file (a test probe, a live tool). Runs on the data path: be quick.</summary>
public delegate void BpfHandler(ReadOnlySpan<byte> frame, Direction direction, long unixMicroseconds);

/// <summary>
/// The per-interface capture hook, like FreeBSD's <c>bpf_if</c> with <c>bpf_mtap</c>: the interface holds one and calls
/// <see cref="Tap"/> on every frame it receives or sends. Listeners attach with <see cref="Attach(PcapWriter, Direction)"/>
/// and detach by disposing the returned <see cref="BpfSession"/>.
/// </summary>
/// <remarks>
/// The listener list is an immutable array swapped under a lock (copy-on-write) and published through a volatile field that
/// is null when nobody listens, so <see cref="Tap"/> costs one volatile read and a null check on an idle interface, and
/// neither locks nor allocates when listeners are attached. A listener whose writer throws is counted as a drop and
/// detached; the exception never reaches the interface.
/// </remarks>
public sealed class BpfTap
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private volatile BpfSession[]? _sessions; // null (never empty) when nobody listens

    public BpfTap(string? name = null, TimeProvider? timeProvider = null)
    {
        Name = name;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The interface's name, for diagnostics.</summary>
    public string? Name { get; }

    /// <summary>True when at least one session is attached (FreeBSD's <c>bpf_peers_present</c>).</summary>
    public bool HasListeners
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _sessions is not null;
    }

    /// <summary>The number of sessions attached now.</summary>
    public int SessionCount => _sessions?.Length ?? 0;

    /// <summary>Starts capturing the frames going <paramref name="filter"/> into <paramref name="writer"/>.</summary>
    /// <remarks>The session does not own the writer: disposing the session leaves the writer open (several sessions,
    /// on several interfaces, may share one file).</remarks>
    public BpfSession Attach(PcapWriter writer, Direction filter = Direction.Both)
    {
        ArgumentNullException.ThrowIfNull(writer);
        return Add(new BpfSession(this, writer, null, Validate(filter)));
    }

    /// <summary>Starts delivering the frames going <paramref name="filter"/> to <paramref name="handler"/>.</summary>
    public BpfSession Attach(BpfHandler handler, Direction filter = Direction.Both)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(new BpfSession(this, null, handler, Validate(filter)));
    }

    /// <summary>
    /// Hands one frame to every listener whose filter matches <paramref name="direction"/>. Called by the interface on
    /// every frame in and out; nearly free when nobody listens. Never throws because of a listener.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Tap(ReadOnlySpan<byte> frame, Direction direction)
    {
        BpfSession[]? sessions = _sessions;
        if (sessions is null)
        {
            return;
        }

        Deliver(sessions, frame, direction);
    }

    /// <summary>Detaches every session (the interface is going away: FreeBSD's <c>bpfdetach</c>).</summary>
    public void DetachAll()
    {
        BpfSession[]? old;
        lock (_lock)
        {
            old = _sessions;
            _sessions = null;
        }

        if (old is not null)
        {
            foreach (BpfSession s in old)
            {
                s.MarkDetached();
            }
        }
    }

    public override string ToString() => $"bpf({Name ?? "?"}, {SessionCount} session(s))";

    private void Deliver(BpfSession[] sessions, ReadOnlySpan<byte> frame, Direction direction)
    {
        long now = (_time.GetUtcNow().UtcTicks - PcapFormat.UnixEpochTicks) / TimeSpan.TicksPerMicrosecond;
        foreach (BpfSession s in sessions)
        {
            s.Deliver(frame, direction, now);
        }
    }

    private BpfSession Add(BpfSession session)
    {
        lock (_lock)
        {
            BpfSession[]? old = _sessions;
            if (old is null)
            {
                _sessions = [session];
            }
            else
            {
                var next = new BpfSession[old.Length + 1];
                old.CopyTo(next, 0);
                next[^1] = session;
                _sessions = next;
            }
        }

        return session;
    }

    internal void Remove(BpfSession session)
    {
        lock (_lock)
        {
            BpfSession[]? old = _sessions;
            int i = old is null ? -1 : Array.IndexOf(old, session);
            if (i < 0)
            {
                return;
            }

            if (old!.Length == 1)
            {
                _sessions = null;
                return;
            }

            var next = new BpfSession[old.Length - 1];
            Array.Copy(old, 0, next, 0, i);
            Array.Copy(old, i + 1, next, i, old.Length - i - 1);
            _sessions = next;
        }
    }

    private static Direction Validate(Direction filter) =>
        filter is Direction.In or Direction.Out or Direction.Both
            ? filter
            : throw new ArgumentOutOfRangeException(nameof(filter), filter, "A capture filter is In, Out or Both.");
}
