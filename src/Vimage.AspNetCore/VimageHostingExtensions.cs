using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.AspNetCore;

/// <summary>Serving an ASP.NET Core app from a vnet: <c>builder.WebHost.UseVimage(vnet)</c>, then <c>ListenVnet</c>.</summary>
public static class VimageHostingExtensions
{
    /// <summary>
    /// Makes <paramref name="vnet"/> Kestrel's only transport: <see cref="ListenVnet(KestrelServerOptions, InAddr, int, Action{ListenOptions}?)"/>
    /// endpoints, and IPv4 URLs and Listen calls, bind there.
    /// </summary>
    public static IWebHostBuilder UseVimage(this IWebHostBuilder builder, Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        return builder.ConfigureServices(services =>
        {
            services.RemoveAll<IConnectionListenerFactory>();
            services.AddSingleton<IConnectionListenerFactory>(new VnetConnectionListenerFactory(vnet));
        });
    }

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/> in the vnet given to UseVimage (port 0: an ephemeral port).</summary>
    public static void ListenVnet(this KestrelServerOptions options, InAddr address, int port, Action<ListenOptions>? configure = null)
        => options.Listen(new VnetEndPoint(null, address, port), configure ?? (_ => { }));

    /// <summary><see cref="ListenVnet(KestrelServerOptions, InAddr, int, Action{ListenOptions}?)"/> with a dotted-quad address.</summary>
    public static void ListenVnet(this KestrelServerOptions options, string address, int port, Action<ListenOptions>? configure = null)
        => options.ListenVnet(InAddr.Parse(address), port, configure);

    /// <summary>Listens in another vnet than UseVimage's (one app serving in several vnets).</summary>
    public static void ListenVnet(this KestrelServerOptions options, Vnet vnet, InAddr address, int port, Action<ListenOptions>? configure = null)
        => options.Listen(new VnetEndPoint(vnet, address, port), configure ?? (_ => { }));
}
