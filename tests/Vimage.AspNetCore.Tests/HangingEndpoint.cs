using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Vimage.AspNetCore.Tests;

/// <summary>GET /hang: signals <see cref="Arrived"/>, then waits until the request is aborted, which signals <see cref="Aborted"/>.</summary>
internal sealed class HangingEndpoint
{
    public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Map(WebApplication app) => app.MapGet("/hang", async (HttpContext c) =>
    {
        c.RequestAborted.Register(() => Aborted.TrySetResult());
        Arrived.TrySetResult();
        await Task.Delay(Timeout.Infinite, c.RequestAborted);
    });
}
