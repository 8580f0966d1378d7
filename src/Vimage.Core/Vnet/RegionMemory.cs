using System.Runtime.InteropServices;

namespace Vimage.Core;

/// <summary>
/// Page-granular, lazily committed, zero-filled blocks for vnet regions. A region is sized for the static sets
/// plus the whole module reserve, but only the pages a vnet actually touches (the sets copied into it) become
/// resident, so an unused reserve costs address space, not memory.
/// </summary>
internal static unsafe partial class RegionMemory
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private static readonly int MapAnonymous = OperatingSystem.IsLinux() ? 0x20 : 0x1000;

    public static nuint PageSize { get; } = (nuint)Environment.SystemPageSize;

    public static nuint RoundToPages(nuint bytes) => (bytes + PageSize - 1) & ~(PageSize - 1);

    public static byte* Allocate(nuint bytes)
    {
        bytes = RoundToPages(Math.Max(bytes, 1));
        if (OperatingSystem.IsWindows())
        {
            return (byte*)NativeMemory.AlignedAlloc(bytes, PageSize) is var p && p != null
                ? (byte*)ClearAndReturn(p, bytes)
                : throw new OutOfMemoryException($"cannot allocate a {bytes}-byte vnet region");
        }

        void* block = mmap(null, bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (block == (void*)-1)
        {
            throw new OutOfMemoryException($"cannot map a {bytes}-byte vnet region (errno {Marshal.GetLastPInvokeError()})");
        }

        return (byte*)block;
    }

    public static void Free(byte* block, nuint bytes)
    {
        bytes = RoundToPages(Math.Max(bytes, 1));
        if (OperatingSystem.IsWindows())
        {
            NativeMemory.AlignedFree(block);
            return;
        }

        _ = munmap(block, bytes);
    }

    private static void* ClearAndReturn(void* p, nuint bytes)
    {
        NativeMemory.Clear(p, bytes);
        return p;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* addr, nuint length);
}
