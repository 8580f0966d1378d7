using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Vimage.Core;
using Vimage.Http;
using Vimage.Net;

namespace Vimage.AspNetCore.Tests;

/// <summary>How connections end: server shutdown with requests in flight, vnets destroyed under requests, leaks.</summary>
public sealed class LifetimeTests
{
    [Fact]
    public async Task StopAsync_with_open_connections_completes_and_the_clients_see_errors()
    {
        using var net = VnetNet.Create("stop");
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8090, a =>
        {
            a.MapGet("/hang", async () =>
            {
                arrived.TrySetResult();
                await never.Task; // ignores RequestAborted: only Kestrel's abort after the shutdown timeout ends it
            });
            a.MapGet("/ok", () => "ok");
        }, shutdownTimeout: TimeSpan.FromMilliseconds(500));

        using HttpClient idle = VnetHttp.CreateClient(net.Client);
        Assert.Equal("ok", await Wait.Bounded(idle.GetStringAsync($"http://{net.ServerAddress}:8090/ok"), "GET")); // a kept-alive idle connection
        using HttpClient busy = VnetHttp.CreateClient(net.Client);
        Task<string> hanging = busy.GetStringAsync($"http://{net.ServerAddress}:8090/hang");
        await Wait.Bounded(arrived.Task, "the request to arrive");

        await Wait.Bounded(app.StopAsync(), "StopAsync with open connections");
        await Assert.ThrowsAsync<HttpRequestException>(() => Wait.Bounded(hanging, "the hanging request to fail"));
        await Assert.ThrowsAsync<HttpRequestException>(() => Wait.Bounded(idle.GetStringAsync($"http://{net.ServerAddress}:8090/ok"), "a request after stop"));
        never.TrySetResult();
    }

    [SkippableFact]
    public async Task Destroying_the_client_vnet_under_a_live_request_fails_it_cleanly()
    {
        Skip.IfNot(Vnet.IsVimage, "needs a second vnet to destroy (VIMAGE build)");
        using var net = VnetNet.Create("killc");
        var hang = new HangingEndpoint();
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8091, hang.Map);

        using HttpClient client = VnetHttp.CreateClient(net.Client);
        Task<string> request = client.GetStringAsync($"http://{net.ServerAddress}:8091/hang");
        await Wait.Bounded(hang.Arrived.Task, "the request to arrive");
        net.Client.Destroy();

        HttpRequestException e = await Assert.ThrowsAsync<HttpRequestException>(() => Wait.Bounded(request, "the request to fail"));
        IOException io = Assert.IsType<IOException>(e.InnerException);
        System.Net.Sockets.SocketException se = Assert.IsType<System.Net.Sockets.SocketException>(io.InnerException);
        Assert.Equal(System.Net.Sockets.SocketError.OperationAborted, se.SocketErrorCode);
        Assert.Contains("its vnet was destroyed", se.Message);
        e = await Assert.ThrowsAsync<HttpRequestException>(() => Wait.Bounded(client.GetStringAsync($"http://{net.ServerAddress}:8091/hang"), "a request from the dead vnet"));
        Assert.Equal(System.Net.Sockets.SocketError.NetworkDown, Assert.IsType<System.Net.Sockets.SocketException>(e.InnerException).SocketErrorCode);
        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }

    [SkippableFact]
    public async Task Destroying_the_server_vnet_under_a_live_request_ends_the_app_cleanly()
    {
        Skip.IfNot(Vnet.IsVimage, "needs a second vnet to destroy (VIMAGE build)");
        using var net = VnetNet.Create("kills");
        var hang = new HangingEndpoint();
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8092, hang.Map);

        using HttpClient client = VnetHttp.CreateClient(net.Client);
        using var cts = new CancellationTokenSource();
        Task<string> request = client.GetStringAsync($"http://{net.ServerAddress}:8092/hang", cts.Token);
        await Wait.Bounded(hang.Arrived.Task, "the request to arrive");
        net.Server.Destroy();

        await Wait.Bounded(hang.Aborted.Task, "the handler to see RequestAborted");
        await Wait.Bounded(app.StopAsync(), "StopAsync after the vnet is gone");
        cts.Cancel(); // the peer vanished without a RST: the client's TCP would wait for its own timeouts
        await Assert.ThrowsAnyAsync<Exception>(() => Wait.Bounded(request, "the cancelled request"));
    }

    [Fact]
    public async Task Sockets_and_mbufs_return_to_baseline()
    {
        using var net = VnetNet.Create("leak");
        long mbufs = MbufPool.Clusters.Outstanding;
        int clientSockets = net.Client.SocketCount, serverSockets = net.Server.SocketCount;

        await using (WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8093, a => a.MapPost("/echo", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            await c.Response.Body.WriteAsync(body.ToArray());
        })))
        {
            for (int round = 0; round < 3; round++)
            {
                using HttpClient client = VnetHttp.CreateClient(net.Client);
                client.DefaultRequestVersion = round == 1 ? HttpVersion.Version20 : HttpVersion.Version11;
                byte[] payload = new byte[300_000];
                await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
                {
                    using HttpResponseMessage r = await client.PostAsync($"http://{net.ServerAddress}:8093/echo", new ByteArrayContent(payload));
                    Assert.Equal(payload.Length, (await r.Content.ReadAsByteArrayAsync()).Length);
                }));
            }

            await Wait.Bounded(app.StopAsync(), "the app to stop");
        }

        Wait.For(() => net.Client.SocketCount == clientSockets && net.Server.SocketCount == serverSockets,
            $"sockets back to baseline (client {net.Client.SocketCount} vs {clientSockets}, server {net.Server.SocketCount} vs {serverSockets})");
        Wait.For(() => MbufPool.Clusters.Outstanding == mbufs, $"mbufs back to baseline ({MbufPool.Clusters.Outstanding} vs {mbufs})");
    }
}
