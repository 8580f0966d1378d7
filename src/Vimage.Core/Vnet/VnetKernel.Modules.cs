using Vimage.Core.Linker;

namespace Vimage.Core;

internal static unsafe partial class VnetKernel
{
    /// <summary>
    /// Registers an assembly's set. Before boot it joins the static part of the region. After boot it is a module:
    /// its space comes from the reserve, its reference copy goes into the master and every vnet, then its
    /// constructors run in every vnet (link_elf parse_vnet + LINKER_PROPAGATE_VNETS + linker_file_sysinit).
    /// A failure leaves nothing behind.
    /// </summary>
    public static VnetLinkerSet Register(VnetLinkerSet set)
    {
        if (KernelLink.IsModuleContext(set.Assembly))
        {
            Boot();
        }

        lock (KernelLink.SyncRoot)
        {
            if (!s_booted && !s_booting)
            {
                RegisterStatic(set);
                return set;
            }

            if (s_booting && s_vnet0 is null)
            {
                RegisterStatic(set); // linked during boot, before the master is built
                return set;
            }

            RegisterModule(set);
            ModuleUnload.OnUnload(set.Assembly, () => Unregister(set));
            return set;
        }
    }

    private static void RegisterStatic(VnetLinkerSet set)
    {
        long start = Layout.RoundUp((nint)s_staticSize, set.Layout.Alignment);
        set.Place(start, s_staticRefs, isModule: false, reserveBlock: -1);
        s_staticSize = start + set.Layout.Size;
        s_staticRefs += set.ReferenceCount;
        Sets.Add(set);
        foreach (SysinitEntry entry in set.Sysinits)
        {
            Constructors.Insert(entry);
        }

        foreach (SysinitEntry entry in set.Sysuninits)
        {
            Destructors.Insert(entry);
        }

        VnetSymbols.Add(set);
    }

    private static void RegisterModule(VnetLinkerSet set)
    {
        string requester = $"{set.Name} ({set.Variables.Count} vnet variables)";
        long block = -1;
        long refBlock = -1;
        if (IsVimage && set.Layout.Size > 0)
        {
            block = s_reserve!.Alloc(set.Layout.ReserveSize, requester);
        }

        if (IsVimage && set.ReferenceCount > 0)
        {
            if (!s_refReserve!.TryAlloc((long)set.ReferenceCount * IntPtr.Size, out refBlock))
            {
                if (block >= 0)
                {
                    s_reserve!.Free(block, set.Layout.ReserveSize);
                }

                throw new ModSpaceExhaustedException("vnet reference-slot", requester, (long)set.ReferenceCount * IntPtr.Size,
                    s_refReserve.FreeBytes, s_refReserve.LargestFree);
            }
        }

        long start = block >= 0 ? Layout.RoundUp((nint)block, set.Layout.Alignment) : s_staticSize;
        set.Place(start, refBlock >= 0 ? (int)(refBlock / IntPtr.Size) : 0, isModule: true, reserveBlock: block);

        StructureLock.EnterWriteLock();
        try
        {
            if (IsVimage)
            {
                set.WriteInitialValues(s_master);
                set.FillReferences(s_masterRefs, master: true);
                foreach (Vnet vnet in Listed)
                {
                    if (set.Layout.Size > 0)
                    {
                        Buffer.MemoryCopy(s_master + set.Start, (byte*)vnet.DataBase + set.Start, set.Layout.Size, set.Layout.Size);
                    }

                    using (Curvnet.Set(vnet))
                    {
                        set.FillReferences(vnet.Refs!, master: false);
                    }
                }

                s_highWater = Math.Max(s_highWater, set.Start + set.Layout.Size);
            }

            // From here on, vnets created before Link get the data and instances through the master and Sets.
            Sets.Add(set);
            VnetSymbols.Add(set);
        }
        catch
        {
            ReleaseModuleSpace(set);
            throw;
        }
        finally
        {
            StructureLock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Second half of a module load, once the generated accessors know their offsets: every constructor joins the
    /// list and runs in every vnet (vnet_register_sysinit). Static sets are linked at boot instead, by vnet0.
    /// </summary>
    public static void Link(VnetLinkerSet set)
    {
        lock (KernelLink.SyncRoot)
        {
            if (!set.IsModule || set.IsLinked)
            {
                return;
            }

            StructureLock.EnterWriteLock();
            var constructed = new List<Vnet>();
            try
            {
                var byKey = new SysinitList();
                foreach (SysinitEntry entry in set.Sysinits)
                {
                    byKey.Insert(entry);
                }

                SysinitEntry[] ordered = byKey.Forward();
                foreach (Vnet vnet in Listed)
                {
                    using (Curvnet.Set(vnet))
                    {
                        RunConstructors(vnet, ordered);
                    }

                    constructed.Add(vnet);
                }

                foreach (SysinitEntry entry in set.Sysinits)
                {
                    Constructors.Insert(entry);
                }

                foreach (SysinitEntry entry in set.Sysuninits)
                {
                    Destructors.Insert(entry);
                }

                set.IsLinked = true;
            }
            catch
            {
                // Nothing half-loaded: the module's destructors run where it was built, then its space goes back.
                RunModuleDestructors(set, constructed);
                Sets.Remove(set);
                VnetSymbols.Remove(set);
                ReleaseModuleSpace(set);
                set.IsUnloaded = true;
                throw;
            }
            finally
            {
                StructureLock.ExitWriteLock();
            }
        }
    }

    /// <summary>Module unload: its destructors run in every vnet (vnet_deregister_sysuninit), then its space is freed.</summary>
    private static void Unregister(VnetLinkerSet set)
    {
        lock (KernelLink.SyncRoot)
        {
            if (!Sets.Contains(set) || set.IsUnloaded)
            {
                return;
            }

            set.IsUnloaded = true;

            StructureLock.EnterWriteLock();
            try
            {
                foreach (SysinitEntry entry in set.Sysinits)
                {
                    Constructors.Remove(entry);
                }

                foreach (SysinitEntry entry in set.Sysuninits)
                {
                    Destructors.Remove(entry);
                }

                if (set.IsLinked)
                {
                    RunModuleDestructors(set, Listed.ToArray());
                }

                Sets.Remove(set);
                VnetSymbols.Remove(set);
                ReleaseModuleSpace(set);
            }
            finally
            {
                StructureLock.ExitWriteLock();
            }
        }
    }

    private static void RunModuleDestructors(VnetLinkerSet set, IReadOnlyList<Vnet> vnets)
    {
        var byKey = new SysinitList();
        foreach (SysinitEntry entry in set.Sysuninits)
        {
            byKey.Insert(entry);
        }

        SysinitEntry[] reverse = byKey.Reverse();
        var failures = new List<Exception>();
        foreach (Vnet vnet in vnets)
        {
            using (Curvnet.Set(vnet))
            {
                foreach (SysinitEntry entry in reverse)
                {
                    RunOne(vnet, entry, failures);
                }
            }
        }

        foreach (Exception failure in failures)
        {
            Console.Error.WriteLine($"vimage: module {set.Name}: {failure.Message}");
        }
    }

    private static void ReleaseModuleSpace(VnetLinkerSet set)
    {
        if (!IsVimage)
        {
            return;
        }

        ListLock.EnterReadLock();
        try
        {
            foreach (Vnet vnet in Listed)
            {
                set.ClearReferences(vnet.Refs!);
            }
        }
        finally
        {
            ListLock.ExitReadLock();
        }

        set.ClearReferences(s_masterRefs);
        if (set.ReserveBlock >= 0)
        {
            s_reserve!.Free(set.ReserveBlock, set.Layout.ReserveSize);
        }

        // New vnets copy [0, high water) in one block: shrink it so a freed module costs them nothing.
        s_highWater = Sets.Where(s => s != set)
            .Select(s => s.Start + s.Layout.Size)
            .DefaultIfEmpty(0)
            .Max();
        s_highWater = Math.Max(s_highWater, s_staticSize);

        if (set.ReferenceCount > 0)
        {
            s_refReserve!.Free((long)set.RefStart * IntPtr.Size, (long)set.ReferenceCount * IntPtr.Size);
        }
    }
}
