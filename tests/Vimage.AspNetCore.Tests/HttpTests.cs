using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Vimage.Core;
using Vimage.Http;
using Vimage.Net.Inet;

namespace Vimage.AspNetCore.Tests;

/// <summary>HttpClient (VnetHttp) in one vnet against Kestrel (UseVimage) in another: HTTP/1.1, h2c, host names, errors.</summary>
public sealed class HttpTests
{
    private static void MapBasics(WebApplication app)
    {
        app.MapGet("/hello", (HttpContext c) => $"hello {c.Request.Protocol} from {c.Connection.LocalIpAddress}:{c.Connection.LocalPort} to {c.Connection.RemoteIpAddress}");
        app.MapPost("/echo", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            c.Response.ContentType = "application/octet-stream";
            await c.Response.Body.WriteAsync(body.ToArray());
        });
        app.MapGet("/conn", (HttpContext c) => c.Connection.Id);
    }

    [Fact]
    public async Task Http11_get_and_a_large_post_cross_the_vnets()
    {
        using var net = VnetNet.Create("h11");
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8080, MapBasics);
        using HttpClient client = VnetHttp.CreateClient(net.Client);

        string hello = await Wait.Bounded(client.GetStringAsync($"http://{net.ServerAddress}:8080/hello"), "GET");
        Assert.Equal($"hello HTTP/1.1 from {net.ServerAddress}:8080 to {net.PeerAddress}", hello);

        byte[] payload = new byte[3 * 1024 * 1024 + 17]; // several windows and pipe pauses
        Random.Shared.NextBytes(payload);
        using HttpResponseMessage response = await Wait.Bounded(client.PostAsync($"http://{net.ServerAddress}:8080/echo", new ByteArrayContent(payload)), "POST");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }

    [Fact]
    public async Task Http11_over_lo0_in_one_vnet()
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create("h11lo") : Vnet.Vnet0;
        try
        {
            await using WebApplication app = await VnetApp.StartAsync(v, InAddr.Loopback, 8081, MapBasics);
            using HttpClient client = VnetHttp.CreateClient(v);
            string hello = await Wait.Bounded(client.GetStringAsync("http://localhost:8081/hello"), "GET");
            Assert.Equal("hello HTTP/1.1 from 127.0.0.1:8081 to 127.0.0.1", hello);
            await Wait.Bounded(app.StopAsync(), "the app to stop");
        }
        finally
        {
            if (v != Vnet.Vnet0)
            {
                v.Destroy();
            }
        }
    }

    [Fact]
    public async Task H2c_prior_knowledge_multiplexes_on_one_connection()
    {
        using var net = VnetNet.Create("h2c");
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8082, MapBasics,
            listen: o => o.Protocols = HttpProtocols.Http2);
        using HttpClient client = VnetHttp.CreateClient(net.Client);
        client.DefaultRequestVersion = HttpVersion.Version20;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        string hello = await Wait.Bounded(client.GetStringAsync($"http://{net.ServerAddress}:8082/hello"), "GET");
        Assert.StartsWith("hello HTTP/2 from", hello);

        string[] ids = await Wait.Bounded(Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.GetStringAsync($"http://{net.ServerAddress}:8082/conn"))), "20 concurrent GETs");
        Assert.Single(ids.Distinct());

        byte[] payload = new byte[2 * 1024 * 1024]; // past HTTP/2's and TCP's flow-control windows
        Random.Shared.NextBytes(payload);
        using HttpResponseMessage response = await Wait.Bounded(client.PostAsync($"http://{net.ServerAddress}:8082/echo", new ByteArrayContent(payload)), "POST");
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }

    [Fact]
    public async Task Host_names_resolve_through_the_client_vnets_hosts_table()
    {
        using var net = VnetNet.Create("hosts");
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8083, MapBasics);
        using HttpClient client = VnetHttp.CreateClient(net.Client);
        net.AddHost("api.test");
        string hello = await Wait.Bounded(client.GetStringAsync("http://API.test:8083/hello"), "GET by name");
        Assert.StartsWith("hello HTTP/1.1", hello);

        HttpRequestException e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("http://nowhere.test:8083/hello"));
        Assert.Equal(HttpRequestError.NameResolutionError, e.HttpRequestError);
        SocketException inner = Assert.IsType<SocketException>(e.InnerException);
        Assert.Equal(SocketError.HostNotFound, inner.SocketErrorCode);
        Assert.Contains("nowhere.test: hostname nor servname provided, or not known", inner.Message);

        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }

    [Fact]
    public async Task Connection_refused_is_an_HttpRequestException_with_a_SocketException()
    {
        using var net = VnetNet.Create("refused");
        using HttpClient client = VnetHttp.CreateClient(net.Client);
        HttpRequestException e = await Assert.ThrowsAsync<HttpRequestException>(() => Wait.Bounded(client.GetStringAsync($"http://{net.ServerAddress}:8099/"), "GET"));
        Assert.Equal(HttpRequestError.ConnectionError, e.HttpRequestError);
        SocketException inner = Assert.IsType<SocketException>(e.InnerException);
        Assert.Equal(SocketError.ConnectionRefused, inner.SocketErrorCode);
        Assert.Contains("Connection refused", inner.Message);
    }

    [Fact]
    public async Task Cancelling_a_request_aborts_it_on_both_sides()
    {
        using var net = VnetNet.Create("cancel");
        var hang = new HangingEndpoint();
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8084, hang.Map);
        using HttpClient client = VnetHttp.CreateClient(net.Client);
        using var cts = new CancellationTokenSource();
        Task<string> request = client.GetStringAsync($"http://{net.ServerAddress}:8084/hang", cts.Token);
        await Wait.Bounded(hang.Arrived.Task, "the request to reach the server");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.Bounded(request, "the cancelled request"));
        await Wait.Bounded(hang.Aborted.Task, "the server to see RequestAborted");
        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }

    [Fact]
    public async Task ConnectTimeout_bounds_a_connect_nobody_answers()
    {
        using var net = VnetNet.Create("ctimeout");
        var handler = VnetHttp.Handler(net.Client);
        handler.ConnectTimeout = TimeSpan.FromMilliseconds(300);
        using var client = new HttpClient(handler);

        // 10.N.1.99 is on the link but nobody has it: ARP never resolves, the SYN never leaves.
        string silent = $"{net.ClientAddress.ToString()[..^1]}99";
        // SocketsHttpHandler reports its ConnectTimeout as a TaskCanceledException with a TimeoutException inside.
        TaskCanceledException e = await Assert.ThrowsAsync<TaskCanceledException>(() => Wait.Bounded(client.GetStringAsync($"http://{silent}:80/"), "GET"));
        Assert.IsType<TimeoutException>(e.InnerException);
    }

    [Fact]
    public async Task UseVimage_binds_plain_urls_in_the_vnet_and_localhost_falls_back_to_IPv4()
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create("urls") : Vnet.Vnet0;
        try
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseVimage(v);
            builder.WebHost.UseUrls("http://localhost:8085");
            await using WebApplication app = builder.Build();
            MapBasics(app);
            await Wait.Bounded(app.StartAsync(), "the app to start");

            using HttpClient client = VnetHttp.CreateClient(v);
            Assert.Equal("hello HTTP/1.1 from 127.0.0.1:8085 to 127.0.0.1", await Wait.Bounded(client.GetStringAsync("http://localhost:8085/hello"), "GET"));

            // The same port again in the same vnet: Kestrel's own "address in use" error.
            var factory = new VnetConnectionListenerFactory(v);
            await Assert.ThrowsAsync<Microsoft.AspNetCore.Connections.AddressInUseException>(() => factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 8085)).AsTask());
            await Wait.Bounded(app.StopAsync(), "the app to stop");
        }
        finally
        {
            if (v != Vnet.Vnet0)
            {
                v.Destroy();
            }
        }
    }
}
