using Vimage.Net.Iflib;

namespace Vimage.Net.Tap;

/// <summary>
/// Where <c>ifconfig tap create</c> puts the host side: the Linux interface name (a <c>%d</c> is resolved by the
/// kernel to the lowest free number in that namespace), the network namespace (a name under /var/run/netns or a path
/// such as /proc/PID/ns/net; null: the process's own) and the queue count (1 to <see cref="TapDevice.MaxQueues"/>;
/// the interface gets as many iflib TX and RX queues).
/// </summary>
public sealed record TapHostConfig(string NamePattern = "vtap%d", string? Netns = null, int Queues = 1)
{
    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(NamePattern);
        if (System.Text.Encoding.UTF8.GetByteCount(NamePattern) > TapDevice.MaxNameLength)
        {
            throw new ArgumentException($"tap name pattern '{NamePattern}' is longer than {TapDevice.MaxNameLength} bytes", nameof(NamePattern));
        }

        if (Netns is { Length: 0 })
        {
            throw new ArgumentException("netns must be null (this process's namespace) or a name/path", nameof(Netns));
        }

        if (Queues < 1 || Queues > TapDevice.MaxQueues)
        {
            throw new ArgumentOutOfRangeException(nameof(Queues), Queues, $"tap queue count must be 1..{TapDevice.MaxQueues}");
        }
    }
}

/// <summary>
/// The <c>tap</c> interface cloner: <c>Ifnets.Create("tap")</c> in the current vnet makes <c>tapN</c> (units are per
/// vnet, like every clone) backed by a new Linux TAP device created as <see cref="HostConfig"/> says; or
/// <see cref="CreateFor"/> makes one for a TAP device the caller already opened (and configured: name, namespace,
/// queue count). Either way the interface owns the device: destroying the interface (ifconfig destroy, or the
/// destruction of its home vnet) stops its reader threads and closes the device, which makes the kernel delete the
/// host-side link. Bringing the host side up and addressing it stay the caller's job (<c>ip</c>).
/// </summary>
public sealed class TapCloner() : IfCloner("tap")
{
    private static TapHostConfig s_config = new();

    [ThreadStatic]
    private static TapDevice? t_adopt;

    [ThreadStatic]
    private static TapHostConfig? t_config;

    /// <summary>The host-side settings used by <c>Ifnets.Create("tap")</c> from now on (process-wide).</summary>
    public static TapHostConfig HostConfig
    {
        get => Volatile.Read(ref s_config);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            Volatile.Write(ref s_config, value);
        }
    }

    /// <summary>Sets <see cref="HostConfig"/>; the defaults put <c>vtap%d</c> with one queue in this process's namespace.</summary>
    public static void Configure(string namePattern = "vtap%d", string? netns = null, int queues = 1)
        => HostConfig = new TapHostConfig(namePattern, netns, queues);

    /// <summary>
    /// Makes <c>tapN</c> (<paramref name="unit"/>, or the lowest free unit when -1) in the current vnet on top of
    /// <paramref name="device"/>, which the interface then owns (closed when it is destroyed). If this throws, the
    /// device stays the caller's.
    /// </summary>
    public static Ifnet CreateFor(TapDevice device, int unit = -1)
    {
        ArgumentNullException.ThrowIfNull(device);
        ObjectDisposedException.ThrowIf(device.IsDisposed, device);
        _ = Vimage.Core.Curvnet.Current ?? throw new InvalidOperationException("tap create needs a current vnet (Curvnet.Set)");
        Ifnets.EnsureCloner("tap", static () => new TapCloner());
        t_adopt = device;
        try
        {
            return Ifnets.Create(unit < 0 ? "tap" : "tap" + unit)[0];
        }
        finally
        {
            t_adopt = null;
        }
    }

    /// <summary>
    /// Makes <c>tapN</c> (<paramref name="unit"/>, or the lowest free unit when -1) in the current vnet with its
    /// host side made as <paramref name="config"/> says instead of <see cref="HostConfig"/> (ifconfig tap create
    /// linuxname NAME netns NS queues N). Nothing is left behind when it throws.
    /// </summary>
    public static Ifnet CreateWith(TapHostConfig config, int unit = -1)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        _ = Vimage.Core.Curvnet.Current ?? throw new InvalidOperationException("tap create needs a current vnet (Curvnet.Set)");
        Ifnets.EnsureCloner("tap", static () => new TapCloner());
        t_config = config;
        try
        {
            return Ifnets.Create(unit < 0 ? "tap" : "tap" + unit)[0];
        }
        finally
        {
            t_config = null;
        }
    }

    protected internal override IReadOnlyList<Ifnet> Create(int unit)
    {
        TapDevice? adopted = t_adopt;
        t_adopt = null;
        TapHostConfig config = t_config ?? HostConfig;
        t_config = null;
        TapDevice device;
        if (adopted is null)
        {
            TapLimits.Reserve();
            try
            {
                device = TapDevice.Create(config.NamePattern, config.Queues, config.Netns);
            }
            catch
            {
                TapLimits.Cancel();
                throw;
            }

            TapLimits.Commit(device);
        }
        else
        {
            device = adopted;
        }

        try
        {
            return [TapNic.Attach(this, unit, device).Interface];
        }
        catch
        {
            if (adopted is null)
            {
                device.Dispose();
                TapLimits.Release(device);
            }

            throw;
        }
    }

    /// <summary>Readers stop and the device closes first, so nothing is posted into rings the detach is purging.</summary>
    protected internal override void Destroy(Ifnet ifp)
    {
        TapNic nic = TapNic.Of(ifp) ?? throw new ArgumentException($"{ifp.Name} is not a tap interface", nameof(ifp));
        nic.Shutdown();
        TapLimits.Release(nic.Device);
        Ifnets.Detach(ifp);
    }

    protected internal override int UnitOf(Ifnet ifp) => TapNic.Of(ifp)?.Unit ?? -1;
}

/// <summary>
/// The device behind a <c>tapN</c> interface: a Linux TAP device on the iflib layer. TX: each frame iflib
/// encapsulates is written to tap queue <c>qid % QueueCount</c> (non-blocking; a refused write is counted in
/// IFCOUNTER_OERRORS) and its buffer freed. RX: one reader thread per tap queue reads frames straight into pooled
/// buffers (clusters, or jumbo buffers when the MTU needs them) and posts them with <see cref="IflibContext.RxPost"/>;
/// RSS then spreads them over the RX queues, whose tasks deliver them inside the interface's vnet. No buffer → the
/// frame is read and dropped (IFCOUNTER_IQDROPS), a full RX ring too; while the interface is down frames are read and
/// discarded uncounted (the receiver is off). The vnet side has its own locally administered MAC (02:74:…).
/// </summary>
public sealed class TapNic : VirtualNic
{
    /// <summary>How long a reader waits before re-checking whether its interface was detached behind its back.</summary>
    public const int ReaderPollMs = 200;

    /// <summary>Ethernet header + VLAN tag + FCS room on top of the MTU when sizing receive buffers.</summary>
    private const int LinkOverhead = 22;

    private static readonly Dictionary<TapDevice, TapNic> Owners = new(ReferenceEqualityComparer.Instance);
    private static readonly uint MacSeed = (uint)Random.Shared.Next();
    private static int s_macCounter;

    private readonly TapQueue[] _queues;
    private readonly Thread[] _readers;
    private int _activeReaders;
    private int _stopping;
    private Exception? _readerError;

    private TapNic(int unit, TapDevice device)
    {
        Unit = unit;
        Device = device;
        _queues = new TapQueue[device.QueueCount];
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = device.Queue(i);
        }

        _readers = new Thread[_queues.Length];
    }

    public override string DriverName => "tap";

    public override int MaxQueueSets => TapDevice.MaxQueues;

    /// <summary>The clone unit (tapN).</summary>
    public int Unit { get; }

    /// <summary>The host-side Linux TAP device (owned: closed when the interface is destroyed).</summary>
    public TapDevice Device { get; }

    public IflibContext Context { get; private set; } = null!;

    public Ifnet Interface { get; private set; } = null!;

    /// <summary>Reader threads still running (0 once the interface is destroyed).</summary>
    public int ActiveReaders => Volatile.Read(ref _activeReaders);

    /// <summary>The read error that stopped a reader, if one did (e.g. the host link was deleted under us).</summary>
    public Exception? ReaderError => Volatile.Read(ref _readerError);

    /// <summary>The tap device behind <paramref name="ifp"/>, or null if it is not a tap interface.</summary>
    public static TapNic? Of(Ifnet ifp)
    {
        ArgumentNullException.ThrowIfNull(ifp);
        return (ifp.Driver as IflibContext)?.Device as TapNic;
    }

    /// <summary>Makes the interface for <paramref name="device"/> in the current vnet and starts its readers.</summary>
    internal static TapNic Attach(TapCloner cloner, int unit, TapDevice device)
    {
        lock (Owners)
        {
            if (!Owners.TryAdd(device, null!)) // claimed now, filled in once attached
            {
                throw new ArgumentException($"{device} already backs a tap interface", nameof(device));
            }
        }

        var nic = new TapNic(unit, device);
        try
        {
            var ctx = new IflibContext(nic, new IflibQueueConfig(device.QueueCount, device.QueueCount, 1024, 1024));
            Ifnet ifp;
            try
            {
                ifp = Ifnets.Attach($"tap{unit}", IfType.IFT_ETHER, ctx, NewMac(),
                    IfFlags.IFF_BROADCAST | IfFlags.IFF_SIMPLEX | IfFlags.IFF_MULTICAST);
            }
            catch
            {
                ((IIfDriver)ctx).Detach(null!); // frees the queues and the device unit (the ifnet is not used)
                throw;
            }

            ifp.Cloner = cloner;
            ifp.Description = device.ToString();
            nic.Context = ctx;
            nic.Interface = ifp;
            ctx.Attach(ifp);
            lock (Owners)
            {
                Owners[device] = nic;
            }

            nic.StartReaders();
            return nic;
        }
        catch
        {
            lock (Owners)
            {
                Owners.Remove(device);
            }

            throw;
        }
    }

    /// <summary>Locally administered, unicast, unique in the process (random per process so two processes differ).</summary>
    internal static byte[] NewMac()
    {
        uint n = MacSeed + (uint)Interlocked.Increment(ref s_macCounter);
        return [0x02, 0x74, (byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n];
    }

    public override int TxdEncap(int qid, Mbuf m)
    {
        bool sent;
        try
        {
            sent = _queues[qid % _queues.Length].Write(m.Data);
        }
        catch (ObjectDisposedException)
        {
            sent = false; // raced with destroy
        }

        if (!sent)
        {
            Interface.Count(IfCounter.IFCOUNTER_OERRORS);
        }

        m.Free();
        return 0; // always consumed: a TAP write never waits, so the TX ring never stalls
    }

    /// <summary>Stops the readers and closes the device (the kernel deletes the host link). Idempotent.</summary>
    internal void Shutdown()
    {
        Volatile.Write(ref _stopping, 1);
        Device.Dispose(); // wakes blocked readers at once
        foreach (Thread t in _readers)
        {
            if (t is not null && t != Thread.CurrentThread)
            {
                t.Join();
            }
        }

        lock (Owners)
        {
            Owners.Remove(Device);
        }
    }

    private void StartReaders()
    {
        _activeReaders = _queues.Length;
        for (int i = 0; i < _queues.Length; i++)
        {
            int q = i;
            _readers[i] = new Thread(() => ReaderLoop(_queues[q]))
            {
                IsBackground = true,
                Name = $"tap{Context.Unit} rx{q} ({Device.Name})",
            };
            _readers[i].Start();
        }
    }

    private void ReaderLoop(TapQueue queue)
    {
        Ifnet ifp = Interface;
        IflibContext ctx = Context;
        byte[]? discard = null;
        try
        {
            while (Volatile.Read(ref _stopping) == 0 && !ifp.IsDetached)
            {
                if (!ifp.IsRunning)
                {
                    queue.Read(discard ??= new byte[TapDevice.MaxFrameSize], ReaderPollMs);
                    continue;
                }

                MbufPool pool = ifp.Mtu + LinkOverhead + Mbuf.Headroom <= MbufPool.Clusters.BufferSize ? MbufPool.Clusters : MbufPool.Jumbo;
                Mbuf? m = pool.Get();
                if (m is null)
                {
                    if (queue.Read(discard ??= new byte[TapDevice.MaxFrameSize], ReaderPollMs) > 0)
                    {
                        ifp.Count(IfCounter.IFCOUNTER_IQDROPS); // out of buffers: the frame is dropped
                    }

                    continue;
                }

                int n, room;
                try
                {
                    Span<byte> buffer = m.Append(m.TrailingSpace);
                    room = buffer.Length;
                    n = queue.Read(buffer, ReaderPollMs);
                }
                catch
                {
                    m.Free();
                    throw;
                }

                if (n == 0 || n >= room)
                {
                    m.Free();
                    if (n != 0)
                    {
                        ifp.Count(IfCounter.IFCOUNTER_IERRORS); // longer than the MTU allows: cut by the read, dropped
                    }

                    continue;
                }

                m.Truncate(n);
                ReadOnlySpan<byte> data = m.Data;
                if (n >= 6 && (data[0] & 1) != 0)
                {
                    m.Flags = data[..6].IndexOfAnyExcept((byte)0xff) < 0 ? MbufFlags.Broadcast : MbufFlags.Multicast;
                }

                if (!ctx.RxPost(m))
                {
                    ifp.Count(IfCounter.IFCOUNTER_IQDROPS); // ring full, or brought down meanwhile
                    m.Free();
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The device was closed: the interface is being destroyed.
        }
        catch (TapException e)
        {
            Volatile.Write(ref _readerError, e);
            ifp.Count(IfCounter.IFCOUNTER_IERRORS);
        }
        finally
        {
            // Detached without the cloner (a bare Ifnets.Detach): the last reader out closes the device.
            if (Interlocked.Decrement(ref _activeReaders) == 0 && ifp.IsDetached && Volatile.Read(ref _stopping) == 0)
            {
                Device.Dispose();
                lock (Owners)
                {
                    Owners.Remove(Device);
                }
            }
        }
    }
}
