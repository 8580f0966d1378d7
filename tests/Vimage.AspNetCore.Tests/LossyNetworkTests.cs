using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Vimage.Core;
using Vimage.Http;
using Vimage.Net.Dummynet;
using Vimage.Net.Ipfw;

namespace Vimage.AspNetCore.Tests;

/// <summary>
/// HttpClient and Kestrel over a router with a dummynet pipe (delay and loss, seeded): TCP recovers, every request
/// completes intact. The README's "Test your service over a lossy network" example, as a test.
/// </summary>
public sealed class LossyNetworkTests
{
    [SkippableTheory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Requests_complete_through_a_lossy_router(string version)
    {
        Skip.IfNot(Vnet.IsVimage, "the router is a third vnet (VIMAGE build)");
        using var net = VnetNet.Create("lossy", routed: true);
        using (Curvnet.Set(net.Router!))
        {
            // ipfw pipe 1 config delay 5 plr 0.01 seed 7; ipfw add 100 pipe 1 ip from any to any; ipfw add 200 allow ip from any to any
            IpFw.Load();
            DnIo.Tables.ConfigurePipe(1, new DnPipeConfig { DelayUs = 5_000, Plr = 0.01, Seed = 7 });
            IpFw.Chain.Add(new IpFwRule { Number = 100, Action = IpFwAction.Pipe, Argument = 1, Destination = IpFwAddr.Any }, 100);
            IpFw.Chain.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow, Destination = IpFwAddr.Any }, 100);
        }

        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8095, a => a.MapPost("/echo", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            await c.Response.Body.WriteAsync(body.ToArray());
        }), listen: o => o.Protocols = version == "2.0" ? HttpProtocols.Http2 : HttpProtocols.Http1);
        net.AddHost("api.lossy.test");
        using HttpClient client = VnetHttp.CreateClient(net.Client);
        client.DefaultRequestVersion = Version.Parse(version);
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        byte[] payload = new byte[128 * 1024];
        Random.Shared.NextBytes(payload);
        await Wait.Bounded(Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using HttpResponseMessage r = await client.PostAsync("http://api.lossy.test:8095/echo", new ByteArrayContent(payload));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(payload, await r.Content.ReadAsByteArrayAsync());
        })), "4 requests through the lossy router");

        long drops;
        using (Curvnet.Set(net.Router!))
        {
            drops = DnIo.Tables.FindPipe(1)!.Drops;
        }

        Assert.True(drops > 0, "the pipe dropped nothing: the test did not test loss");
        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }
}
