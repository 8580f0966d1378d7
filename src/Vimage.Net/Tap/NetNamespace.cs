using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Vimage.Net.Tap;

/// <summary>
/// Runs code inside a named Linux network namespace (the ones <c>ip netns add</c> creates under /var/run/netns).
/// The body runs on a fresh dedicated thread that enters the namespace with setns(2), then restores the original
/// namespace and exits, so no pooled or caller thread ever changes namespace. File descriptors and sockets created by
/// the body stay bound to that namespace and work from any thread afterwards.
/// </summary>
public static class NetNamespace
{
    /// <summary>Path of a namespace handle: a name maps to /var/run/netns/NAME; anything with a '/' is used as is
    /// (e.g. /proc/1234/ns/net).</summary>
    public static string PathOf(string netns)
    {
        ArgumentException.ThrowIfNullOrEmpty(netns);
        return netns.Contains('/') ? netns : "/var/run/netns/" + netns;
    }

    /// <summary>Runs <paramref name="body"/> inside <paramref name="netns"/> and returns its result; exceptions from
    /// the body are rethrown on the caller with their original stack.</summary>
    public static T Run<T>(string netns, Func<T> body) =>
        RunCore(netns, body, (op, errno, hint) => TapException.ForNetns(netns, op, errno, hint));

    /// <summary>Runs <paramref name="body"/> inside <paramref name="netns"/>.</summary>
    public static void Run(string netns, Action body) =>
        Run(netns, () => { body(); return 0; });

    internal static T RunCore<T>(string netns, Func<T> body, Func<string, int, string?, Exception> error)
    {
        ArgumentNullException.ThrowIfNull(body);
        string path = PathOf(netns);
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = RunHere(path, body, error);
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "netns " + netns,
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    private static T RunHere<T>(string path, Func<T> body, Func<string, int, string?, Exception> error)
    {
        int target = TapNative.Open(path, TapNative.O_RDONLY | TapNative.O_CLOEXEC);
        if (target < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw error($"open {path}", errno, errno == TapNative.ENOENT ? "no such network namespace" : null);
        }

        int original = -1;
        try
        {
            original = TapNative.Open("/proc/thread-self/ns/net", TapNative.O_RDONLY | TapNative.O_CLOEXEC);
            if (original < 0)
                throw error("open /proc/thread-self/ns/net", Marshal.GetLastPInvokeError(), null);
            if (TapNative.SetNs(target, TapNative.CLONE_NEWNET) != 0)
                throw error($"setns {path}", Marshal.GetLastPInvokeError(), null);
            try
            {
                return body();
            }
            finally
            {
                // Best effort: the thread is dedicated and exits right after, so a failed restore cannot leak the
                // namespace into other code.
                _ = TapNative.SetNs(original, TapNative.CLONE_NEWNET);
            }
        }
        finally
        {
            if (original >= 0)
                _ = TapNative.Close(original);
            _ = TapNative.Close(target);
        }
    }
}
