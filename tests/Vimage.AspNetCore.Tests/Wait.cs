namespace Vimage.AspNetCore.Tests;

/// <summary>Bounded waits: a condition or a task that does not come true in time fails the test.</summary>
internal static class Wait
{
    public const int TimeoutMs = 30_000;

    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(TimeoutMs);

    public static void For(Func<bool> condition, string what, int timeoutMs = TimeoutMs)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.ElapsedMilliseconds < timeoutMs, $"timed out waiting for {what}");
            Thread.Sleep(2);
        }
    }

    /// <summary>Awaits <paramref name="task"/> but fails (instead of hanging) after the timeout.</summary>
    public static async Task<T> Bounded<T>(Task<T> task, string what)
    {
        Task done = await Task.WhenAny(task, Task.Delay(Timeout)).ConfigureAwait(false);
        Assert.True(done == task, $"timed out waiting for {what}");
        return await task.ConfigureAwait(false);
    }

    public static async Task Bounded(Task task, string what)
    {
        Task done = await Task.WhenAny(task, Task.Delay(Timeout)).ConfigureAwait(false);
        Assert.True(done == task, $"timed out waiting for {what}");
        await task.ConfigureAwait(false);
    }
}
