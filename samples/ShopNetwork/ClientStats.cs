using Vimage.Core;

namespace ShopNetwork;

/// <summary>
/// The sample's own per-vnet state: every client vnet counts its attempts, failures and successes in its own copy
/// (VNET_DEFINE). The Vimage.Core package's source generator emits V_attempts, V_attempts_In(vnet) and the rest.
/// </summary>
public static partial class ClientStats
{
    [Vnet] private static long s_attempts;

    [Vnet] private static long s_failures;

    [Vnet] private static long s_successes;

    public static long Attempts(Vnet client) => Volatile.Read(ref V_attempts_In(client));

    public static long Failures(Vnet client) => Volatile.Read(ref V_failures_In(client));

    public static long Successes(Vnet client) => Volatile.Read(ref V_successes_In(client));

    /// <summary>Counts in the current vnet (CURVNET_SET by the caller).</summary>
    internal static void Attempt() => Interlocked.Increment(ref V_attempts);

    internal static void Failure() => Interlocked.Increment(ref V_failures);

    internal static void Success() => Interlocked.Increment(ref V_successes);
}
