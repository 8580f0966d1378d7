namespace Vimage.Core;

/// <summary>
/// Recycles the regions of destroyed vnets (a small UMA-like cache): creating a vnet then costs one block copy
/// into pages that are already mapped and resident, instead of faulting in fresh ones. Bounded, so a burst of
/// destroys does not pin memory: beyond <see cref="Capacity"/> regions are unmapped. Bytes above a new vnet's
/// high-water mark may be stale, which is harmless: a module placed there later copies its data into every vnet.
/// </summary>
internal static unsafe class RegionPool
{
    public const int Capacity = 32;
    private static readonly Stack<nint> Free = new();

    public static byte* Rent(nuint bytes)
    {
        lock (Free)
        {
            if (Free.TryPop(out nint region))
            {
                return (byte*)region;
            }
        }

        return RegionMemory.Allocate(bytes);
    }

    public static void Return(byte* region, nuint bytes)
    {
        lock (Free)
        {
            if (Free.Count < Capacity)
            {
                Free.Push((nint)region);
                return;
            }
        }

        RegionMemory.Free(region, bytes);
    }
}
