using System.Diagnostics;
using System.Runtime.InteropServices;
using Vimage.Core;
using Vimage.Core.Linker;

namespace Vimage.Bench;

/// <summary>
/// Figure 5: Vnet.Create + Destroy of a vnet whose sets total 64 KiB with 20 VNET_SYSINIT constructors (the
/// Set64K module, loaded into the reserve), against a bare 64 KiB NativeMemory.Alloc + memcpy + Free. A second,
/// informative baseline maps fresh pages (mmap + memcpy + munmap), which is what a vnet region costs the kernel.
/// </summary>
internal static unsafe partial class VnetLifecycle
{
    private const int Warmup = 500;
    private const int Iterations = 5000;
    private const string SetType = "Vimage.Bench.Set64K.Set64KState";

    public static void Run()
    {
        if (!Vnet.IsVimage)
        {
            Results.Note("vnet-lifecycle", "needs VIMAGE (this build has -p:Vimage=false): skipped");
            return;
        }

        // Before the module: only the bench's 64-byte static line, to separate the fixed cost from the 64 KiB.
        double bareNs = MedianNs(() => Vnet.Create().Destroy());
        KernelModule module = Modules.Load("Vimage.Bench.Set64K");
        try
        {
            long setBytes = Modules.BytesPerVnet(module);
            int constructors = Modules.SetOf(module).Sysinits.Count;
            Vnet probe = Vnet.Create("lifecycle-probe");
            long ran = (long)Modules.Call(module, SetType, "ConstructorsRun", probe)!;
            probe.Destroy();
            if (ran != constructors)
            {
                throw new InvalidOperationException($"expected {constructors} constructors to run, {ran} did");
            }

            double vnetNs = MedianNs(() => Vnet.Create().Destroy());
            nint source = (nint)NativeMemory.AllocZeroed((nuint)setBytes);
            double mallocNs = MedianNs(() => CopyMalloc(source, setBytes));
            double mmapNs = MedianNs(() => CopyMmap(source, setBytes));
            NativeMemory.Free((void*)source);

            double ratio = vnetNs / mallocNs;
            Results.Add("vnet-lifecycle", $"create+destroy, sets {setBytes} B ({Results.F(setBytes / 1024.0, "0.#")} KiB), {constructors} constructors: median {Results.F(vnetNs / 1000, "0.00")} us");
            Results.Add("vnet-lifecycle", $"vs NativeMemory.Alloc+memcpy+Free of {setBytes} B (median {Results.F(mallocNs / 1000, "0.00")} us): ratio {Results.F(ratio)}x",
                ratio <= 3.0, "<= 3x");
            Results.Add("vnet-lifecycle", $"same with only the {VnetSystem.StaticSize} B static set, no module (median {Results.F(bareNs / 1000, "0.00")} us): fixed cost (informative)");
            Results.Add("vnet-lifecycle", $"vs mmap+memcpy+munmap of {setBytes} B, fresh pages (median {Results.F(mmapNs / 1000, "0.00")} us): ratio {Results.F(vnetNs / mmapNs)}x (informative)");
        }
        finally
        {
            module.Unload();
        }
    }

    private static void CopyMalloc(nint source, long bytes)
    {
        void* block = NativeMemory.Alloc((nuint)bytes);
        Buffer.MemoryCopy((void*)source, block, bytes, bytes);
        NativeMemory.Free(block);
    }

    private static void CopyMmap(nint source, long bytes)
    {
        void* block = mmap(null, (nuint)bytes, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS (Linux) */, -1, 0);
        if (block == (void*)-1)
        {
            throw new OutOfMemoryException("mmap failed");
        }

        Buffer.MemoryCopy((void*)source, block, bytes, bytes);
        _ = munmap(block, (nuint)bytes);
    }

    /// <summary>Warm-up, then the median of <see cref="Iterations"/> individually timed runs, in ns.</summary>
    internal static double MedianNs(Action body)
    {
        for (int i = 0; i < Warmup; i++)
        {
            body();
        }

        var samples = new double[Iterations];
        for (int i = 0; i < Iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            body();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalNanoseconds;
        }

        Array.Sort(samples);
        return samples[Iterations / 2];
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* addr, nuint length);
}
