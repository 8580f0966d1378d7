using Vimage.Core;
using Vimage.Net.Iflib;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>
/// Exact leak checks on the process-wide mbuf pool. A baseline means something only when nothing is in flight: the
/// tests of this assembly never run in parallel (AssemblyInfo), and <see cref="Baseline"/> first waits until every
/// interface of every vnet is idle (rings empty, queue tasks not running) and frees what earlier tests left for a
/// timer to free later (fragments waiting for reassembly: ip_drain in every vnet). After that nothing frees or takes
/// buffers on its own, so the check is equality.
/// </summary>
internal static class MbufLeak
{
    public static long Baseline(MbufPool? pool = null)
    {
        WaitIdle();
        foreach (Vnet v in Vnet.List())
        {
            using (Curvnet.Set(v))
            {
                IpReass.Drain();
            }
        }

        return (pool ?? MbufPool.Clusters).Outstanding;
    }

    /// <summary>Waits (bounded) until the pool is back at <paramref name="baseline"/>: exactly, not at most.</summary>
    public static void AssertBack(long baseline, MbufPool? pool = null, int timeoutMs = 10_000)
    {
        pool ??= MbufPool.Clusters;
        Assert.True(Frames.WaitFor(() => pool.Outstanding == baseline, timeoutMs),
            $"outstanding {pool.Outstanding}, baseline {baseline} ({pool.Outstanding - baseline:+#;-#;0})");
    }

    /// <summary>Waits (bounded) until no interface of any vnet has a frame queued or a queue task running.</summary>
    public static void WaitIdle()
        => Assert.True(Frames.WaitFor(() => Vnet.List().All(v => StackFixture.In(v, () => Ifnets.Current.Snapshot()).All(Idle))),
            "interfaces did not go idle");

    private static bool Idle(Ifnet ifp)
        => ifp.IsDetached || ifp.Driver is not IflibContext ctx
            || (ctx.TxQueues.All(q => q.Ring.IsIdle && !q.CompletionTask.IsBusy) && ctx.RxQueues.All(q => q.Ring.InUse == 0 && !q.Task.IsBusy));
}
