using System.Runtime.InteropServices;

namespace Vimage.Core;

/// <summary>
/// Restartable sequences (Linux rseq(2)): glibc ≥ 2.35 registers a struct rseq for every thread at
/// <c>thread pointer + __rseq_offset</c>, and the kernel stores the thread's current CPU in its <c>cpu_id</c> field
/// before the thread returns to user space on a new CPU. Reading that field is what FreeBSD's
/// <c>PCPU_GET(cpuid)</c> is on x86 (one %gs-relative load). Only used on Linux x64, where glibc's thread pointer
/// (%fs base) is what <c>pthread_self</c> returns; disabled with VIMAGE_RSEQ=0 or when glibc did not register
/// (GLIBC_TUNABLES=glibc.pthread.rseq=0, an older glibc, or another libc).
/// </summary>
internal static unsafe class Rseq
{
    private const int CpuIdField = 4; // struct rseq { u32 cpu_id_start; u32 cpu_id; ... }

    private static readonly nint Offset;
    private static readonly delegate* unmanaged<nint> PthreadSelf;
    private static readonly delegate* unmanaged<int> SchedGetcpu;

    static Rseq()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64
            || Environment.GetEnvironmentVariable("VIMAGE_RSEQ") == "0"
            || !NativeLibrary.TryLoad("libc.so.6", out nint libc)
            || !NativeLibrary.TryGetExport(libc, "__rseq_offset", out nint offset)
            || !NativeLibrary.TryGetExport(libc, "__rseq_size", out nint size)
            || !NativeLibrary.TryGetExport(libc, "pthread_self", out nint self)
            || !NativeLibrary.TryGetExport(libc, "sched_getcpu", out nint getcpu)
            || *(uint*)size < 8)
        {
            return;
        }

        Offset = *(nint*)offset;
        PthreadSelf = (delegate* unmanaged<nint>)self;
        SchedGetcpu = (delegate* unmanaged<int>)getcpu;
    }

    public static bool Available => PthreadSelf != null;

    /// <summary>The calling thread's rseq cpu_id, or null when rseq is unavailable or not registered for it.</summary>
    public static int* CpuIdOfThisThread()
    {
        if (!Available)
        {
            return null;
        }

        int* cpu = (int*)(PthreadSelf() + Offset + CpuIdField);
        // Registered threads hold a CPU number (≥ 0; -1 = not registered, -2 = registration failed). Cross-check it
        // against sched_getcpu, retrying in case the thread migrated between the two reads.
        for (int attempt = 0; attempt < 8; attempt++)
        {
            int seen = *cpu;
            if (seen < 0)
            {
                return null;
            }

            if (seen == SchedGetcpu())
            {
                return cpu;
            }
        }

        return null;
    }
}
