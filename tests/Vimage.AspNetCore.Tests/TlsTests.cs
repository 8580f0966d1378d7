using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Vimage.Http;

namespace Vimage.AspNetCore.Tests;

/// <summary>HTTPS over vnet TCP: SslStream on both sides, ALPN choosing HTTP/1.1 or h2, a certificate made in the test.</summary>
public sealed class TlsTests
{
    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Https_with_a_self_signed_certificate(string version)
    {
        using var net = VnetNet.Create("tls");
        using X509Certificate2 cert = VnetApp.SelfSigned("secure.test");
        await using WebApplication app = await VnetApp.StartAsync(net.Server, net.ServerAddress, 8443,
            a => a.MapPost("/echo", async (HttpContext c) =>
            {
                using var body = new MemoryStream();
                await c.Request.Body.CopyToAsync(body);
                string tls = c.Features.Get<ITlsHandshakeFeature>()?.Protocol.ToString() ?? "none";
                c.Response.Headers["x-tls"] = tls;
                c.Response.Headers["x-proto"] = c.Request.Protocol;
                await c.Response.Body.WriteAsync(body.ToArray());
            }),
            listen: o =>
            {
                o.Protocols = HttpProtocols.Http1AndHttp2;
                o.UseHttps(cert);
            });

        net.AddHost("secure.test");
        SocketsHttpHandler handler = VnetHttp.Handler(net.Client);
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == cert.GetCertHashString();
        using var client = new HttpClient(handler)
        {
            DefaultRequestVersion = Version.Parse(version),
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        byte[] payload = new byte[1024 * 1024 + 3]; // many TLS records, past the windows
        Random.Shared.NextBytes(payload);
        using HttpResponseMessage response = await Wait.Bounded(client.PostAsync("https://secure.test:8443/echo", new ByteArrayContent(payload)), "POST");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Version.Parse(version), response.Version);
        Assert.Equal(version == "2.0" ? "HTTP/2" : "HTTP/1.1", response.Headers.GetValues("x-proto").Single());
        Assert.StartsWith("Tls1", response.Headers.GetValues("x-tls").Single());
        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        await Wait.Bounded(app.StopAsync(), "the app to stop");
    }
}
