using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.AspNetCore.Tests;

/// <summary>An ASP.NET Core app served by Kestrel from a vnet through UseVimage and ListenVnet.</summary>
internal static class VnetApp
{
    public static async Task<WebApplication> StartAsync(Vnet vnet, InAddr address, int port, Action<WebApplication> map,
        Action<ListenOptions>? listen = null, Action<IServiceCollection>? services = null, TimeSpan? shutdownTimeout = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseVimage(vnet);
        builder.WebHost.ConfigureKestrel(k => k.ListenVnet(address, port, listen));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(5));
        services?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        map(app);
        await Wait.Bounded(app.StartAsync(), "the app to start");
        return app;
    }

    /// <summary>A self-signed server certificate for <paramref name="dnsName"/> (ECDSA P-256), made here in the test.</summary>
    public static X509Certificate2 SelfSigned(string dnsName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}
