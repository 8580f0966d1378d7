using System.Runtime.ExceptionServices;
using Vimage.Core;

namespace Vimage.Net.Sockets;

/// <summary>
/// sorwakeup for async receivers, done by the thread that delivered the data, with no thread-pool hop. A user's
/// send opens a scope (<see cref="Enter"/>); datagrams it delivers inline (net.isr.dispatch=direct) to sockets with
/// an awaiting <c>ReceiveAsync</c> are copied out at once, and stream sockets' async waits (receive, send space)
/// fired meanwhile are recorded too; their completions are only recorded here, and run
/// when the send returns to the socket layer (<see cref="Exit"/>): outside every delivery lock, ring and vnet, so
/// the code after the receiver's <c>await</c> cannot stall the stack it was woken by. That code runs on the
/// sender's thread, inside its send call, as .NET's own sockets do with inline completions: it must not block
/// waiting for the sender. Continuations nest (an echo server's reply wakes the client, whose next send wakes the
/// server...) at most <c>net.isr.inline_wakeup</c> deep per thread; deeper, and outside any send, they hop to the
/// thread pool as before. Nothing here allocates: the pending list is a small per-thread array.
/// </summary>
internal static partial class SoWakeups
{
    /// <summary>Default nesting of inline continuations per thread.</summary>
    public const int DefaultDepth = 8;

    private const int Capacity = 16;

    [Sysctl("net.isr.inline_wakeup", SysctlFlags.RW, "Nested async receive completions run on the delivering thread (0: always on the thread pool)", Min = 0, Max = 64)]
    internal static int s_inline_wakeup = DefaultDepth;

    [ThreadStatic]
    private static int t_scopes;

    [ThreadStatic]
    private static IDeferredWakeup?[]? t_pending;

    [ThreadStatic]
    private static int t_count;

    [ThreadStatic]
    private static int t_inlineDepth;

    private static long s_inline;

    /// <summary>Completions run inline so far (tests and the bench read it).</summary>
    public static long Inline => Interlocked.Read(ref s_inline);

    /// <summary>A user call into the stack begins (a send).</summary>
    public static void Enter() => t_scopes++;

    /// <summary>The user call returns: at the outermost scope, the completions it caused run here.</summary>
    public static void Exit()
    {
        if (--t_scopes == 0 && t_count > 0)
        {
            Flush();
        }
    }

    /// <summary>
    /// Records <paramref name="so"/>'s completion for the end of the current send. False (the caller completes it
    /// on the thread pool) outside a send, with the list full, at the depth limit, or with the knob at 0.
    /// </summary>
    public static bool TryDefer(IDeferredWakeup so)
    {
        if (t_scopes == 0 || t_inlineDepth >= Volatile.Read(ref s_inline_wakeup))
        {
            return false;
        }

        IDeferredWakeup?[] pending = t_pending ??= new IDeferredWakeup?[Capacity];
        if (t_count == pending.Length)
        {
            return false;
        }

        pending[t_count++] = so;
        return true;
    }

    // A stack: a continuation's own send may defer more while this loop runs; it flushes them itself.
    private static void Flush()
    {
        IDeferredWakeup?[] pending = t_pending!;
        ExceptionDispatchInfo? first = null;
        while (t_count > 0)
        {
            int i = --t_count;
            IDeferredWakeup so = pending[i]!;
            pending[i] = null;
            t_inlineDepth++;
            try
            {
                Interlocked.Increment(ref s_inline);
                so.CompleteDeferred();
            }
            catch (Exception e)
            {
                first ??= ExceptionDispatchInfo.Capture(e); // the others still complete
            }
            finally
            {
                t_inlineDepth--;
            }
        }

        first?.Throw();
    }
}

/// <summary>A completion <see cref="SoWakeups"/> runs at the end of the send that caused it, on the sender's thread.</summary>
internal interface IDeferredWakeup
{
    /// <summary>Completes the wait with continuations run inline (outside every stack lock).</summary>
    void CompleteDeferred();
}
