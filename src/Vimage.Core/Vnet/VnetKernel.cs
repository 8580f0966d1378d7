using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>
/// The vnet allocator (sys/net/vnet.c). Locking: <see cref="KernelLink.SyncRoot"/> orders set registration and
/// boot; <see cref="StructureLock"/> is vnet_sysinit_sxlock widened: vnet creation and destruction hold it shared,
/// module load and unload hold it exclusive. A module therefore never runs while a vnet is half built, which
/// closes FreeBSD's race where a module's data is copied only into listed vnets and misses one under
/// construction. <see cref="ListLock"/> guards the list for readers (VNET_LIST_RLOCK).
/// </summary>
internal static unsafe partial class VnetKernel
{
    /// <summary>VNET_MODMIN default: 8 pages.</summary>
    public const int DefaultModMin = 8 * 4096;

    /// <summary>Reference slots reserved for modules.</summary>
    public const int DefaultModRefs = 64;

#if VIMAGE
    public static readonly bool IsVimage = true;
#else
    public static readonly bool IsVimage = false;
#endif

    public static readonly ReaderWriterLockSlim StructureLock = new(LockRecursionPolicy.SupportsRecursion);
    public static readonly ReaderWriterLockSlim ListLock = new(LockRecursionPolicy.SupportsRecursion);

    private static readonly List<VnetLinkerSet> Sets = [];
    private static readonly LinkedList<Vnet> Listed = new(); // each vnet holds its node: unlisting is O(1)
    private static readonly SysinitList Constructors = new();
    private static readonly SysinitList Destructors = new();
    private static int s_modMin = Tunables.GetInt("VIMAGE_VNET_MODMIN", DefaultModMin, 0, 1 << 30);
    private static int s_modRefs = Tunables.GetInt("VIMAGE_VNET_MODREFS", DefaultModRefs, 0, 1 << 20);
    private static long s_staticSize;
    private static int s_staticRefs;
    private static bool s_booting;
    private static bool s_booted;
    private static byte* s_master;
    private static object?[] s_masterRefs = [];
    private static ModSpaceAllocator? s_reserve;
    private static ModSpaceAllocator? s_refReserve;
    private static Vnet? s_vnet0;
    private static int s_nextId;
    private static long s_highWater;

    public static int ModMin => s_modMin;

    public static long StaticSize => s_staticSize;

    public static nuint RegionSize { get; private set; }

    public static bool IsBooted => Volatile.Read(ref s_booted);

    /// <summary>The master copy exists (tunables can be stored into it).</summary>
    public static bool IsMasterBuilt => s_master != null;

    public static ModSpaceAllocator Reserve
    {
        get
        {
            Boot();
            return s_reserve!;
        }
    }

    public static Vnet Vnet0
    {
        get
        {
            Boot();
            return s_vnet0!;
        }
    }

    public static IReadOnlyList<VnetLinkerSet> LinkedSets
    {
        get
        {
            lock (KernelLink.SyncRoot)
            {
                return Sets.ToArray();
            }
        }
    }

    public static void Configure(int modMin, int modRefs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(modMin);
        ArgumentOutOfRangeException.ThrowIfNegative(modRefs);
        lock (KernelLink.SyncRoot)
        {
            if (s_booted || s_booting)
            {
                throw new InvalidOperationException("VNET_MODMIN can only be set before the vnet system boots");
            }

            s_modMin = modMin;
            s_modRefs = modRefs;
        }
    }

    /// <summary>vnet0_init: links the static sets, builds the master copy and vnet0, runs every constructor in it.</summary>
    public static void Boot()
    {
        if (Volatile.Read(ref s_booted))
        {
            return;
        }

        lock (KernelLink.SyncRoot)
        {
            if (s_booted || s_booting)
            {
                return;
            }

            s_booting = true;
            try
            {
                KernelLink.RegisterStaticAssemblies();
                long reserveStart = Layout.RoundUp((nint)s_staticSize, 64);
                RegionSize = RegionMemory.RoundToPages((nuint)(reserveStart + s_modMin));
                s_master = RegionMemory.Allocate(RegionSize);
                s_masterRefs = new object?[s_staticRefs + s_modRefs];
                foreach (VnetLinkerSet set in Sets)
                {
                    set.WriteInitialValues(s_master);
                    set.FillReferences(s_masterRefs, master: true);
                }

                Sysctl.ApplyPendingTunables(); // loader tunables reach the master before vnet0 copies it
                s_reserve = new ModSpaceAllocator("vnet", reserveStart, s_modMin);
                s_refReserve = new ModSpaceAllocator("vnet reference-slot", s_staticRefs * IntPtr.Size, (long)s_modRefs * IntPtr.Size);
                s_highWater = s_staticSize;
                s_vnet0 = new Vnet(Interlocked.Increment(ref s_nextId) - 1, "vnet0");
                CreateCore(s_vnet0);
                Volatile.Write(ref s_booted, true);
            }
            finally
            {
                s_booting = false;
            }
        }
    }

    public static Vnet Create(string? name)
    {
        if (!IsVimage)
        {
            throw new NotSupportedException("built without VIMAGE: only vnet0 exists (rebuild with -p:Vimage=true to create vnets)");
        }

        Boot();
        int id = Interlocked.Increment(ref s_nextId) - 1;
        return CreateCore(new Vnet(id, name ?? $"vnet{id}"));
    }

    public static IReadOnlyList<Vnet> Snapshot()
    {
        Boot();
        ListLock.EnterReadLock();
        try
        {
            return Listed.ToArray();
        }
        finally
        {
            ListLock.ExitReadLock();
        }
    }

    public static object?[] MasterRefs => s_masterRefs;

    public static byte* Master
    {
        get
        {
            Boot();
            return s_master;
        }
    }

    private static Vnet CreateCore(Vnet vnet)
    {
        StructureLock.EnterReadLock();
        try
        {
            if (IsVimage)
            {
                vnet.RegionBytes = RegionSize;
                vnet.DataBase = (nint)RegionPool.Rent(RegionSize);
                long used = Volatile.Read(ref s_highWater);
                Buffer.MemoryCopy(s_master, (void*)vnet.DataBase, used, used); // one block copy of the master
                vnet.Refs = new object?[s_masterRefs.Length];
            }

            using (Curvnet.Set(vnet))
            {
                if (IsVimage)
                {
                    foreach (VnetLinkerSet set in Sets)
                    {
                        set.FillReferences(vnet.Refs!, master: false);
                    }
                }

                RunConstructors(vnet, Constructors.Forward());
            }

            vnet.State = VnetState.Live;
            ListLock.EnterWriteLock();
            try
            {
                vnet.ListNode = Listed.AddLast(vnet);
            }
            finally
            {
                ListLock.ExitWriteLock();
            }

            return vnet;
        }
        catch
        {
            if (vnet.State == VnetState.Creating)
            {
                FreeRegion(vnet);
            }

            throw;
        }
        finally
        {
            StructureLock.ExitReadLock();
        }
    }

    public static void Destroy(Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        vnet.EnsureUsable();
        if (vnet == s_vnet0)
        {
            throw new InvalidOperationException("vnet0 cannot be destroyed");
        }

        StructureLock.EnterReadLock();
        try
        {
            ListLock.EnterWriteLock();
            try
            {
                if (vnet.State != VnetState.Live || vnet.ListNode is not { } node)
                {
                    throw new InvalidOperationException($"{vnet} is already being destroyed");
                }

                Listed.Remove(node);
                vnet.ListNode = null;

                vnet.State = VnetState.ShuttingDown;
            }
            finally
            {
                ListLock.ExitWriteLock();
            }

            vnet.WaitForUsers(); // no worker is inside the stack when its destructors run

            List<Exception> failures = [];
            using (Curvnet.Set(vnet))
            {
                foreach (SysinitEntry entry in Destructors.Reverse())
                {
                    RunOne(vnet, entry, failures);
                }
            }

            FreeRegion(vnet);
            if (failures.Count > 0)
            {
                throw new AggregateException($"{vnet}: {failures.Count} destructors failed; the vnet was freed anyway", failures);
            }
        }
        finally
        {
            StructureLock.ExitReadLock();
        }
    }

    private static void FreeRegion(Vnet vnet)
    {
        if (vnet.DataBase != 0)
        {
            RegionPool.Return((byte*)vnet.DataBase, vnet.RegionBytes);
        }

        vnet.DataBase = 0;
        vnet.Refs = null;
        vnet.Magic = Vnet.MagicDead;
        vnet.State = VnetState.Destroyed;
    }

    private static void RunConstructors(Vnet vnet, SysinitEntry[] entries)
    {
        foreach (SysinitEntry entry in entries)
        {
            vnet.Subsystem = entry.Subsystem;
            try
            {
                entry.Function();
            }
            catch (Exception e)
            {
                throw new VnetSysinitException($"{vnet}: constructor {entry} failed: {e.Message}", e);
            }
        }

        vnet.Subsystem = SiSub.SI_SUB_VNET_DONE;
    }

    private static void RunOne(Vnet vnet, SysinitEntry entry, List<Exception> failures)
    {
        vnet.Subsystem = entry.Subsystem;
        try
        {
            entry.Function();
        }
        catch (Exception e)
        {
            failures.Add(new VnetSysinitException($"{vnet}: destructor {entry} failed: {e.Message}", e));
        }
    }
}
