namespace Vimage.Cli.Host;

/// <summary>
/// What one host lets its clients take: connections, time to send a request, time to take each output frame, and
/// the output queued per connection. Every client-driven resource in the host is bounded by one of these.
/// </summary>
public sealed record HostLimits
{
    public const int DefaultMaxConnections = 256;

    /// <summary>Descriptors never handed to connections: the runtime (thread creation needs a pipe), TAPs, pcap files.</summary>
    public const int DescriptorReserve = 256;

    /// <summary>Largest request frame (argv, cwd, env); a command line is far smaller.</summary>
    public const int MaxRequest = 64 * 1024;

    /// <summary>Concurrent connections served; extras get an error frame and exit 75 (EX_TEMPFAIL).</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>How long a client may take to send its request frame.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one output frame may wait for the client to take it before the connection is dropped.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Output bytes queued per connection before the command waits for the client (at most WriteTimeout).</summary>
    public int OutputQueueBytes { get; init; } = 256 * 1024;

    /// <summary>The kernel's send buffer per connection (SO_SNDBUF): the output queue's size, at most 64 KiB.</summary>
    public int SocketBufferBytes => Math.Min(OutputQueueBytes, 64 * 1024);

    /// <summary>
    /// The cap in force now: MaxConnections, but never more than RLIMIT_NOFILE minus <see cref="DescriptorReserve"/>.
    /// Read per accept, so a limit lowered at run time (prlimit) lowers the cap with it.
    /// </summary>
    public int EffectiveMaxConnections()
    {
        long soft = HostNative.DescriptorLimit();
        return soft <= 0 ? MaxConnections : (int)Math.Clamp(soft - DescriptorReserve, 1, MaxConnections);
    }
}
