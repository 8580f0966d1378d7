using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Vimage.AspNetCore;
using Vimage.Bench.Http;
using Vimage.Bench.Net;
using Vimage.Core;
using Vimage.Http;
using Vimage.Net.Inet;

// dotnet run -c Release --project bench/Vimage.Bench.Http -- [--seconds N] [--warmup S] [--rounds R] [--concurrency C] [--size BYTES]
// HTTP/1.1 GET (HttpClient → Kestrel) and gRPC unary calls (Grpc.Net.Client → Grpc.AspNetCore) between two vnets
// over an epair, against the same client and server over Linux loopback TCP (127.0.0.1, Kestrel's sockets transport).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
double seconds = 3, warmup = 1;
int concurrency = 8, size = 256, rounds = 3;
for (int i = 0; i < args.Length; i++)
{
    bool ok = i + 1 < args.Length && args[i] switch
    {
        "--seconds" => double.TryParse(args[++i], CultureInfo.InvariantCulture, out seconds) && seconds > 0,
        "--warmup" => double.TryParse(args[++i], CultureInfo.InvariantCulture, out warmup) && warmup >= 0,
        "--rounds" => int.TryParse(args[++i], CultureInfo.InvariantCulture, out rounds) && rounds > 0,
        "--concurrency" => int.TryParse(args[++i], CultureInfo.InvariantCulture, out concurrency) && concurrency > 0,
        "--size" => int.TryParse(args[++i], CultureInfo.InvariantCulture, out size) && size >= 0,
        _ => false,
    };
    if (!ok)
    {
        Console.Error.WriteLine("usage: Vimage.Bench.Http [--seconds N] [--warmup S] [--rounds R] [--concurrency C] [--size BYTES]");
        return 2;
    }
}

double idle = MachineInfo.IdlePercent();
Console.WriteLine($"Vimage.Bench.Http: VIMAGE={(Vnet.IsVimage ? "on" : "off")}, {Environment.ProcessorCount} CPUs, .NET {Environment.Version}, load average {MachineInfo.LoadAverage()}");
if (idle < 80)
{
    Console.WriteLine($"WARNING: the machine was busy at the start ({idle:0}% idle over 1 s): every figure is skewed");
}

if (!Vnet.IsVimage)
{
    Console.WriteLine("needs VIMAGE (two vnets): skipped");
    return 0;
}

Console.WriteLine($"each row: {warmup:0.##} s warm-up per side, then {rounds} rounds of {seconds:0.##} s per side, alternating which side goes first; " +
    $"{concurrency} concurrent callers, {size}-byte responses / payloads");

// Vimage: client vnet a (192.0.2.1) and server vnet b (192.0.2.2) joined by one epair.
(Vnet a, Vnet b) = VnetPair.Create("hbench-a", "hbench-b");
InAddr addrA = InAddr.Parse("192.0.2.1"), addrB = InAddr.Parse("192.0.2.2");
VnetPair.Epair(a, b, ifA => InAddrs.Add(ifA, addrA, 24), ifB => InAddrs.Add(ifB, addrB, 24));

int loHttp = FreePort(), loGrpc = FreePort();
await using WebApplication vimageApp = await Servers.StartAsync(
    web => web.UseVimage(b),
    k => { k.ListenVnet(addrB, 8080, Servers.Http1); k.ListenVnet(addrB, 8081, Servers.Http2); },
    size);
await using WebApplication loopbackApp = await Servers.StartAsync(
    _ => { },
    k => { k.Listen(IPAddress.Loopback, loHttp, Servers.Http1); k.Listen(IPAddress.Loopback, loGrpc, Servers.Http2); },
    size);

SocketsHttpHandler vimageHandler = VnetHttp.Handler(a);
vimageHandler.MaxConnectionsPerServer = concurrency;
using var vimageHttp = new HttpClient(vimageHandler) { BaseAddress = new Uri("http://192.0.2.2:8080/") };
using var loopbackHttp = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false })
{
    BaseAddress = new Uri($"http://127.0.0.1:{loHttp}/"),
};

SocketsHttpHandler vimageGrpcHandler = VnetHttp.Handler(a);
vimageGrpcHandler.EnableMultipleHttp2Connections = true;
using GrpcChannel vimageChannel = GrpcChannel.ForAddress("http://192.0.2.2:8081", new GrpcChannelOptions { HttpHandler = vimageGrpcHandler });
using GrpcChannel loopbackChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{loGrpc}",
    new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false } });
var message = new EchoMessage { Payload = ByteString.CopyFrom(new byte[size]) };

var rows = new List<(string Name, LoadResult Vimage, LoadResult Loopback)>();
// Rounds alternate the order, so load that drifts during the run weighs on both sides alike.
async Task Row(string name, Func<Task> vimage, Func<Task> loopback)
{
    await Load.RunAsync(loopback, concurrency, TimeSpan.FromSeconds(warmup));
    await Load.RunAsync(vimage, concurrency, TimeSpan.FromSeconds(warmup));
    var vis = new List<LoadResult>();
    var los = new List<LoadResult>();
    for (int r = 0; r < rounds; r++)
    {
        foreach (bool vimageSide in r % 2 == 0 ? new[] { false, true } : [true, false])
        {
            (vimageSide ? vis : los).Add(await Load.RunAsync(vimageSide ? vimage : loopback, concurrency, TimeSpan.FromSeconds(seconds)));
        }
    }

    LoadResult vi = LoadResult.Merge(vis), lo = LoadResult.Merge(los);
    rows.Add((name, vi, lo));
    Console.WriteLine($"{name}: vimage {vi.PerSecond:N0}/s p50 {vi.P50Us:0} µs p99 {vi.P99Us:0} µs ({vi.Requests:N0} calls); " +
        $"loopback {lo.PerSecond:N0}/s p50 {lo.P50Us:0} µs p99 {lo.P99Us:0} µs ({lo.Requests:N0} calls)");
}

await Row("HTTP/1.1 GET", () => vimageHttp.GetByteArrayAsync("r"), () => loopbackHttp.GetByteArrayAsync("r"));
var vimageEcho = new Echo.EchoClient(vimageChannel);
var loopbackEcho = new Echo.EchoClient(loopbackChannel);
await Row("gRPC unary", () => vimageEcho.UnaryAsync(message).ResponseAsync, () => loopbackEcho.UnaryAsync(message).ResponseAsync);

Console.WriteLine();
Console.WriteLine("| measurement | Vimage | loopback | ratio | goal ≥ 1× |");
Console.WriteLine("|---|---|---|---|---|");
foreach (var (name, vi, lo) in rows)
{
    Line($"{name} calls/s", $"{vi.PerSecond:N0}", $"{lo.PerSecond:N0}", vi.PerSecond / lo.PerSecond);
    Line($"{name} p50 latency", $"{vi.P50Us:0} µs", $"{lo.P50Us:0} µs", lo.P50Us / vi.P50Us);
    Line($"{name} p99 latency", $"{vi.P99Us:0} µs", $"{lo.P99Us:0} µs", lo.P99Us / vi.P99Us);
}

Console.WriteLine($"(ratios above 1 favour Vimage: calls/s Vimage/loopback, latency loopback/Vimage) load average at the end {MachineInfo.LoadAverage()}");
return 0;

static void Line(string what, string vimage, string loopback, double ratio) =>
    Console.WriteLine($"| {what} | {vimage} | {loopback} | {ratio:0.00}× | {(ratio >= 1 ? "met" : "missed")} |");

static int FreePort()
{
    using var probe = new TcpListener(IPAddress.Loopback, 0);
    probe.Start();
    return ((IPEndPoint)probe.LocalEndpoint).Port;
}
