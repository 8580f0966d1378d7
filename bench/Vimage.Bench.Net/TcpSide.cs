namespace Vimage.Bench.Net;

/// <summary>
/// One connected or listening stream socket, as the tcp mode's shared loops (TcpMeasure) see it: the Vimage side
/// wraps a <c>TcpSocket</c>, the Linux side a System.Net.Sockets.Socket, so both run the same user-level code.
/// </summary>
internal interface IBenchSocket : IDisposable
{
    /// <summary>send(2): bytes taken (blocking).</summary>
    int Send(ReadOnlySpan<byte> data);

    /// <summary>recv(2): bytes read, 0 at the peer's FIN (blocking).</summary>
    int Receive(Span<byte> buffer);

    /// <summary>accept(2) on a listener.</summary>
    IBenchSocket Accept();

    /// <summary>TCP_NODELAY.</summary>
    void SetNoDelay();
}

/// <summary>
/// A pair of hosts for the tcp mode: host A (clients, 192.0.2.1 and 192.0.2.3) and host B (listeners, 192.0.2.2)
/// joined by one link, with what each stack exposes about its memory and TIME_WAIT.
/// </summary>
internal abstract class TcpSide : IDisposable
{
    /// <summary>The second client address on A (100,000 connections need more than one address's ephemeral ports).</summary>
    public const string SecondClient = "192.0.2.3";

    public abstract string Name { get; }

    public abstract string Description { get; }

    /// <summary>The most connections this side can hold open at once (Linux: half the descriptors RLIMIT_NOFILE allows).</summary>
    public virtual int MaxConnections => int.MaxValue;

    /// <summary>A listening socket on B's <paramref name="port"/> with <paramref name="backlog"/>.</summary>
    public abstract IBenchSocket Listen(ushort port, int backlog);

    /// <summary>A socket on A (bound to client address <paramref name="client"/>: 0 = 192.0.2.1, 1 = 192.0.2.3) connected to B's <paramref name="port"/>. Call it inside <see cref="OnClient"/>.</summary>
    public abstract IBenchSocket Connect(ushort port, int client = 0);

    /// <summary>Runs <paramref name="body"/> on a new thread that may create A's sockets (Linux: the thread entered A's namespace).</summary>
    public abstract T OnClient<T>(Func<T> body);

    /// <summary>Bytes this stack holds for the connections, after a full GC; the parts are described in <see cref="MemoryParts"/>.</summary>
    public abstract (long Bytes, string Parts) Memory();

    /// <summary>What <see cref="Memory"/> counts.</summary>
    public abstract string MemoryParts { get; }

    /// <summary>Connections in TIME_WAIT on A and on B.</summary>
    public abstract (long A, long B) TimeWait();

    /// <summary>Data segments A sent and retransmitted so far (0, 0 where the stack does not say).</summary>
    public abstract (long Sent, long Retransmitted) Segments();

    /// <summary>Every counter this stack keeps for the pair (name → value; none where it does not say), for per-row deltas.</summary>
    public virtual IReadOnlyDictionary<string, long> Counters() => new Dictionary<string, long>();

    /// <summary>Each open connection's state, one line each (empty where the stack does not say).</summary>
    public virtual string Connections() => "";

    public abstract void Dispose();
}
