using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Vimage.AspNetCore;
using Vimage.Core;
using Vimage.Net.Inet;

namespace ShopNetwork;

/// <summary>One stock level, as the service answers it.</summary>
public sealed record StockLevel(string Sku, int Count);

/// <summary>
/// The shop's stock service: an ordinary ASP.NET Core minimal API (GET /stock/{sku}), served by Kestrel from the
/// server vnet through the Vimage transport instead of the kernel's sockets.
/// </summary>
public static class StockService
{
    public const int Port = 8080;

    public static async Task<WebApplication> StartAsync(Vnet server, IReadOnlyDictionary<string, int> stock)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseVimage(server);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenVnet(InAddr.Any, Port));

        WebApplication app = builder.Build();
        app.MapGet("/stock/{sku}", (string sku) => stock.TryGetValue(sku, out int count)
            ? Results.Ok(new StockLevel(sku, count))
            : Results.NotFound());
        await app.StartAsync().ConfigureAwait(false);
        return app;
    }
}
