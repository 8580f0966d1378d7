using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>Start-up configuration and introspection of the vnet allocator (DDB's show vnet_sysinit and friends).</summary>
public static class VnetSystem
{
    /// <summary>Sets VNET_MODMIN (reserve bytes) and the reference slots reserved for modules; only before boot.</summary>
    public static void Configure(int modMin = VnetKernel.DefaultModMin, int modRefs = VnetKernel.DefaultModRefs)
        => VnetKernel.Configure(modMin, modRefs);

    /// <summary>Boots explicitly (otherwise the first use does): links the static sets and creates vnet0.</summary>
    public static void Boot() => VnetKernel.Boot();

    public static bool IsBooted => VnetKernel.IsBooted;

    /// <summary>VNET_MODMIN in effect.</summary>
    public static int ModMin => VnetKernel.ModMin;

    /// <summary>Bytes of the static sets (VNET_BYTES without the reserve).</summary>
    public static long StaticSize => VnetKernel.StaticSize;

    /// <summary>Bytes mapped per vnet (VNET_SIZE); only the pages holding sets are touched.</summary>
    public static long RegionSize
    {
        get
        {
            VnetKernel.Boot();
            return (long)VnetKernel.RegionSize;
        }
    }

    /// <summary>The module reserve's allocator.</summary>
    public static ModSpaceAllocator Reserve => VnetKernel.Reserve;

    public static IReadOnlyList<VnetLinkerSet> LinkedSets => VnetKernel.LinkedSets;
}
