namespace Vimage.Core;

/// <summary>
/// A <c>[Vnet]</c> value that owns something per vnet (a counter array, a handle). Its set registers a
/// constructor and a destructor for it at (SI_SUB_INIT_IF, SI_ORDER_FIRST), as VNET_PCPUSTAT_SYSINIT does, so
/// every vnet allocates its own on creation and frees it on destruction. The master copy never allocates.
/// </summary>
public interface IPerVnetResource
{
    /// <summary>Called on the vnet's copy, with that vnet current.</summary>
    void VnetInit();

    /// <summary>Called on the vnet's copy when the vnet (or the module) goes away.</summary>
    void VnetUninit();
}
