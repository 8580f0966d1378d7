namespace Vimage.Core;

/// <summary>
/// One virtual network stack (FreeBSD's struct vnet): a contiguous region holding its copy of every
/// <c>[Vnet]</c> variable, plus a slot array for reference-type variables. Create with <see cref="Create"/>;
/// <see cref="Vnet0"/> exists from boot. Code reaches a vnet's variables through the generated <c>V_name</c>
/// accessors after entering it with <see cref="Curvnet.Set"/>.
/// </summary>
public sealed unsafe class Vnet
{
    /// <summary>VNET_MAGIC_N: a live vnet.</summary>
    public const uint MagicLive = 0x5e4a6f28;

    /// <summary>What the magic becomes once the vnet is destroyed.</summary>
    public const uint MagicDead = 0xdeadbeef;

    private int _interfaceCount;
    private int _socketCount;
    private int _activeUsers;

    internal Vnet(int id, string name)
    {
        Id = id;
        Name = name;
    }

    /// <summary>vnet_data_base: the region's base; variable offsets are relative to it.</summary>
    internal nint DataBase;

    /// <summary>Per-vnet instances of reference-type variables, indexed like the region.</summary>
    internal object?[]? Refs;

    /// <summary>Its node in the vnet list while listed (VNET_LIST), so unlisting does not search.</summary>
    internal LinkedListNode<Vnet>? ListNode;

    /// <summary>Bytes mapped for the region.</summary>
    internal nuint RegionBytes;

    /// <summary>Boot-time vnet0, the host's stack. Boots the system on first use.</summary>
    public static Vnet Vnet0 => VnetKernel.Vnet0;

    /// <summary>True in builds with VIMAGE: more than one vnet can exist.</summary>
    public static bool IsVimage => VnetKernel.IsVimage;

    /// <summary>A small number unique among vnets of this process (vnet0 is 0).</summary>
    public int Id { get; }

    /// <summary>A label (usually the jail name) for listings and errors.</summary>
    public string Name { get; }

    /// <summary>vnet_magic_n.</summary>
    public uint Magic { get; internal set; } = MagicLive;

    public VnetState State { get; internal set; } = VnetState.Creating;

    /// <summary>vnet_state: the SI_SUB_* of the constructor or destructor running (or last run).</summary>
    public SiSub Subsystem { get; internal set; }

    /// <summary>vnet_shutdown: set once destruction starts, so subsystems can refuse new work.</summary>
    public bool IsShuttingDown => State >= VnetState.ShuttingDown;

    /// <summary>vnet_ifcnt.</summary>
    public int InterfaceCount => Volatile.Read(ref _interfaceCount);

    /// <summary>
    /// vnet_sockcnt. FreeBSD asserts it is zero at destroy because jail removal kills the processes first; here
    /// the protocols' destructors close the sockets still open, so later use of them fails cleanly.
    /// </summary>
    public int SocketCount => Volatile.Read(ref _socketCount);

    /// <summary>Creates a vnet: region copied from the master, constructors run in it, then listed.</summary>
    public static Vnet Create(string? name = null) => VnetKernel.Create(name);

    /// <summary>The listed vnets (VNET_FOREACH), oldest first, as a snapshot taken under the list read lock.</summary>
    public static IReadOnlyList<Vnet> List() => VnetKernel.Snapshot();

    /// <summary>VNET_FOREACH with CURVNET_SET around the body.</summary>
    public static void Foreach(Action<Vnet> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        foreach (Vnet vnet in List())
        {
            using (Curvnet.Set(vnet))
            {
                body(vnet);
            }
        }
    }

    /// <summary>vnet_destroy: unlists, runs destructors in reverse order, frees the region, poisons the object.</summary>
    public void Destroy() => VnetKernel.Destroy(this);

    public void AddInterface() => Interlocked.Increment(ref _interfaceCount);

    public void RemoveInterface() => Interlocked.Decrement(ref _interfaceCount);

    public void AddSocket() => Interlocked.Increment(ref _socketCount);

    public void RemoveSocket() => Interlocked.Decrement(ref _socketCount);

    /// <summary>Threads inside <see cref="TryEnter"/> / <see cref="Exit"/> right now.</summary>
    public int ActiveUsers => Volatile.Read(ref _activeUsers);

    /// <summary>
    /// Takes a short-lived reference for work arriving from outside the vnet (a queue worker delivering a packet):
    /// false once the vnet is shutting down, so the caller drops the work instead of touching a dying stack.
    /// <see cref="Destroy"/> waits for every such reference to be released before it runs any destructor,
    /// which is what NET_EPOCH gives FreeBSD. Pair each successful call with <see cref="Exit"/>.
    /// </summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _activeUsers);
        if (State is VnetState.Live or VnetState.Creating)
        {
            return true;
        }

        Interlocked.Decrement(ref _activeUsers);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _activeUsers);

    /// <summary>Waits until no <see cref="TryEnter"/> reference is held (called once shutdown has begun).</summary>
    internal void WaitForUsers()
    {
        Interlocked.MemoryBarrier(); // the state write must be visible before we read the count (Dekker with TryEnter)
        var spin = new SpinWait();
        while (Volatile.Read(ref _activeUsers) != 0)
        {
            spin.SpinOnce(sleep1Threshold: 20);
        }
    }

    /// <summary>Throws unless the vnet can be entered (not destroyed).</summary>
    public void EnsureUsable()
    {
        if (Magic != MagicLive || State == VnetState.Destroyed)
        {
            ThrowDestroyed();
        }
    }

    // Out of line so EnsureUsable stays small enough to inline into CURVNET_SET.
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ThrowDestroyed()
        => throw new ObjectDisposedException($"vnet {Id} ({Name})", $"vnet {Id} ({Name}) has been destroyed (magic 0x{Magic:x8})");

    public override string ToString() => $"vnet{Id} ({Name}, {State})";
}
