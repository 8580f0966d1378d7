using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Vimage.Bench.Http;

/// <summary>
/// The one ASP.NET Core app both sides serve: GET /r answers <c>size</c> bytes (HTTP/1.1 endpoint), Echo.Unary
/// echoes (HTTP/2 endpoint). Only the transport differs: Vimage's (<c>UseVimage</c>) or Kestrel's sockets.
/// </summary>
internal static class Servers
{
    public static async Task<WebApplication> StartAsync(Action<IWebHostBuilder> transport, Action<KestrelServerOptions> listen, int size)
    {
        byte[] body = new byte[size];
        Random.Shared.NextBytes(body);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        transport(builder.WebHost);
        builder.WebHost.ConfigureKestrel(listen);
        builder.Services.AddGrpc();
        WebApplication app = builder.Build();
        app.MapGet("/r", () => Results.Bytes(body, "application/octet-stream"));
        app.MapGrpcService<EchoService>();
        await app.StartAsync().ConfigureAwait(false);
        return app;
    }

    public static void Http1(ListenOptions o) => o.Protocols = HttpProtocols.Http1;

    public static void Http2(ListenOptions o) => o.Protocols = HttpProtocols.Http2;
}
