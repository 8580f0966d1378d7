using System.Runtime.CompilerServices;

namespace Vimage.Core;

/// <summary>
/// curvnet: the vnet the current thread works in (td_vnet). It is per thread, like FreeBSD's, so it does not flow
/// across <c>await</c>: code that resumes elsewhere re-enters its vnet (as sockets do with so_vnet). A thread that
/// never entered a vnet has none; a virtualized global read there throws ("no current vnet"), it never falls back
/// to vnet0 or to another vnet's copy.
/// </summary>
public static class Curvnet
{
    [ThreadStatic]
    internal static Vnet? t_current;

    // The current vnet's vnet_data_base, cached per thread by Set/Restore so a generated V_x accessor is one
    // thread-static load plus the variable's offset (FreeBSD: curthread->td_vnet->vnet_data_base). Zero when no
    // vnet is current. Reference-type variables are reached through t_current.Refs instead of a second cached
    // reference: each reference stored in a thread-static is a GC write barrier on every CURVNET_SET and RESTORE.
    [ThreadStatic]
    internal static nint t_base;

    [ThreadStatic]
    private static int t_depth;

    /// <summary>
    /// VNET_DEBUG's recursion tracking: records nested sets in <see cref="RecursionLog"/>. Off by default. The
    /// accessors' liveness check is a start-up switch instead (<see cref="CheckedAccess"/>), so the JIT folds it.
    /// </summary>
    public static bool Debug { get; set; }

    /// <summary>
    /// True when started with VIMAGE_VNET_DEBUG=1 (or the AppContext switch <c>Vimage.VnetDebug</c>): every V_x
    /// access then also checks that the current vnet is alive and that the cached base is its own. Read once; the
    /// accessors always check that some vnet is current, switch or not.
    /// </summary>
    public static bool CheckedAccess => Linker.VnetAccess.Checked;

    /// <summary>The current vnet, or null outside any CURVNET_SET.</summary>
    public static Vnet? Current => t_current;

    /// <summary>VNET_DEBUG's vnet_recursion list (most recent last, bounded).</summary>
    public static IReadOnlyList<VnetRecursion> RecursionLog => VnetRecursionLog.Snapshot();

    /// <summary>CURVNET_SET: enters <paramref name="vnet"/> until the returned scope is disposed (CURVNET_RESTORE).</summary>
    public static CurvnetScope Set(Vnet vnet,
        [CallerMemberName] string caller = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        vnet.EnsureUsable();
        if (!Vnet.IsVimage && vnet != Vnet.Vnet0)
        {
            throw new InvalidOperationException("built without VIMAGE: only vnet0 exists");
        }

        Vnet? previous = t_current;
        if (Debug && previous is not null)
        {
            LogRecursion(caller, file, line, previous, vnet);
        }

        t_current = vnet;
        t_base = vnet.DataBase;
        int depth = ++t_depth;
        return new CurvnetScope(previous, depth);
    }

    // Out of line: the debug record's arguments would otherwise keep registers saved on every CURVNET_SET.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LogRecursion(string caller, string file, int line, Vnet previous, Vnet next)
        => VnetRecursionLog.Add(new VnetRecursion(caller, Path.GetFileName(file), line, previous, next));

    // The scope carries its depth (a disposed scope carries 0), so an out-of-order or repeated RESTORE is caught
    // without a per-set ticket: each thread-static touched here costs on every inline hop.
    internal static void Restore(Vnet? previous, int depth)
    {
        int current = t_depth;
        if (depth != current || depth <= 0)
        {
            ThrowUnbalanced(depth, current);
        }

        t_depth = current - 1;
        t_current = previous;
        // Re-read from the vnet, not from the scope: a vnet destroyed meanwhile has a zero base, so later accesses
        // throw instead of reaching a region that may already serve another vnet.
        t_base = previous?.DataBase ?? 0;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowUnbalanced(int depth, int current)
        => throw new InvalidOperationException(
            $"unbalanced CURVNET_RESTORE: restoring scope at depth {depth}, but the thread is at depth {current}");

    /// <summary>
    /// The slow path of an access: no current vnet, or <see cref="CheckedAccess"/> on. Throws for no (or a dead)
    /// current vnet, and for a cached base that is not the current vnet's (a bug in Set/Restore).
    /// </summary>
    internal static Vnet RequireCurrent()
    {
        Vnet? current = t_current;
        if (current is null)
        {
            throw new InvalidOperationException("no current vnet: virtualized globals need CURVNET_SET (Curvnet.Set)");
        }

        current.EnsureUsable();
        if (t_base != current.DataBase || current.Refs is null)
        {
            throw new InvalidOperationException($"curvnet cache does not match {current}");
        }

        return current;
    }
}

/// <summary>The scope returned by <see cref="Curvnet.Set"/>; Dispose is CURVNET_RESTORE.</summary>
public struct CurvnetScope : IDisposable
{
    private readonly Vnet? _previous;
    private int _depth;

    internal CurvnetScope(Vnet? previous, int depth)
    {
        _previous = previous;
        _depth = depth;
    }

    public void Dispose()
    {
        Curvnet.Restore(_previous, _depth);
        _depth = 0;
    }
}

/// <summary>One VNET_DEBUG recursion record: where a CURVNET_SET nested inside another.</summary>
public sealed record VnetRecursion(string Caller, string File, int Line, Vnet Previous, Vnet Next);

internal static class VnetRecursionLog
{
    private const int Capacity = 256;
    private static readonly Queue<VnetRecursion> Entries = new();

    public static void Add(VnetRecursion entry)
    {
        lock (Entries)
        {
            if (Entries.Count == Capacity)
            {
                Entries.Dequeue();
            }

            Entries.Enqueue(entry);
        }
    }

    public static IReadOnlyList<VnetRecursion> Snapshot()
    {
        lock (Entries)
        {
            return Entries.ToArray();
        }
    }
}
