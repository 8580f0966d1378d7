using Vimage.Core;

namespace ShopNetwork;

/// <summary>
/// What a client of the shop does without Polly: try, give each attempt a timeout, back off and try again until an
/// overall deadline. Attempts are counted in the client vnet's <see cref="ClientStats"/>.
/// </summary>
public static class Retry
{
    public static async Task<T> RunAsync<T>(
        Vnet client, Func<CancellationToken, Task<T>> attempt, TimeSpan perAttempt, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        overall.CancelAfter(deadline);
        TimeSpan backoff = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            Count(client, ClientStats.Attempt);
            using var one = CancellationTokenSource.CreateLinkedTokenSource(overall.Token);
            one.CancelAfter(perAttempt);
            try
            {
                T result = await attempt(one.Token).ConfigureAwait(false);
                Count(client, ClientStats.Success);
                return result;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException or Vimage.Net.Sockets.NetSocketException
                                      && !cancellationToken.IsCancellationRequested)
            {
                Count(client, ClientStats.Failure);
                if (overall.IsCancellationRequested)
                {
                    throw new TimeoutException($"{client.Name}: no answer within {deadline.TotalSeconds:0.#} s", e);
                }
            }

            try
            {
                await Task.Delay(backoff, overall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{client.Name}: no answer within {deadline.TotalSeconds:0.#} s");
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromMilliseconds(200).Ticks));
        }
    }

    // The current vnet is per thread and does not flow across await: enter the client's vnet for each update.
    private static void Count(Vnet client, Action update)
    {
        using (Curvnet.Set(client))
        {
            update();
        }
    }
}
