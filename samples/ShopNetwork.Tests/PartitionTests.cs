using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using ShopNetwork;
using Vimage.Core;
using Vimage.Http;

namespace ShopNetwork.Tests;

/// <summary>
/// The test a .NET developer writes for a service on a bad network: two HttpClients, each in its own vnet, reach an
/// ASP.NET Core service (Kestrel in vnet "server") by name ("http://shop:8080", the clients' hosts tables) through a
/// router with slow, lossy links (dummynet: delay, 1% loss, fixed seed); the router then cuts one client off
/// (ipfw deny), whose retry loop keeps failing while the other client is served; the partition heals and the
/// waiting request completes. All in one process, a few seconds, no root.
/// </summary>
public sealed class PartitionTests
{
    private static readonly Dictionary<string, int> Stock = new() { ["apple"] = 3, ["pear"] = 0 };

    [Fact]
    public async Task A_partitioned_client_retries_until_the_network_heals_while_the_other_client_is_served()
    {
        using var net = new ShopTopology("tcp-partition", delay: TimeSpan.FromMilliseconds(5), loss: 0.01, seed: 42);
        await using WebApplication service = await StockService.StartAsync(net.Server, Stock);
        using HttpClient http1 = VnetHttp.CreateClient(net.Client1), http2 = VnetHttp.CreateClient(net.Client2);

        Assert.Equal(new StockLevel("apple", 3), await Ask(http1, net.Client1, "apple"));
        Assert.Equal(new StockLevel("pear", 0), await Ask(http2, net.Client2, "pear"));

        net.Partition(net.Client1);
        long failedBefore = ClientStats.Failures(net.Client1);
        Task<StockLevel> waiting = Ask(http1, net.Client1, "apple", deadline: TimeSpan.FromSeconds(20));

        // The cut-off client fails attempt after attempt (each times out: the router drops its packets)...
        await WaitUntil(() => ClientStats.Failures(net.Client1) >= failedBefore + 2, "client1's attempts to fail twice");
        Assert.False(waiting.IsCompleted);

        // ...while the other client, on another link of the same router, is still served.
        Assert.Equal(new StockLevel("apple", 3), await Ask(http2, net.Client2, "apple"));

        net.Heal(net.Client1);
        Assert.Equal(new StockLevel("apple", 3), await waiting.WaitAsync(TimeSpan.FromSeconds(20)));

        // Each client vnet counted its own attempts (the sample's [Vnet] statics, generated from the package).
        Assert.True(ClientStats.Failures(net.Client1) >= 2);
        Assert.Equal(2, ClientStats.Successes(net.Client1));
        Assert.Equal(2, ClientStats.Successes(net.Client2));
        foreach (Vnet client in new[] { net.Client1, net.Client2 })
        {
            Assert.Equal(ClientStats.Attempts(client), ClientStats.Successes(client) + ClientStats.Failures(client));
        }

        Assert.Equal(0, ClientStats.Attempts(net.Server));
        Assert.True(net.PipeCounters().Passed > 0, "traffic went through the router's dummynet pipe");
    }

    [Fact]
    public async Task A_request_during_a_partition_gives_up_at_its_deadline()
    {
        using var net = new ShopTopology("tcp-deadline", delay: TimeSpan.FromMilliseconds(2), loss: 0, seed: 1);
        await using WebApplication service = await StockService.StartAsync(net.Server, Stock);
        using HttpClient http2 = VnetHttp.CreateClient(net.Client2);
        net.Partition(net.Client2);

        var clock = Stopwatch.StartNew();
        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(() => Ask(http2, net.Client2, "apple", deadline: TimeSpan.FromSeconds(1)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        Assert.Contains("no answer within 1 s", e.Message);
        Assert.True(ClientStats.Failures(net.Client2) >= 2, $"{ClientStats.Failures(net.Client2)} failed attempts");
        Assert.Equal(0, ClientStats.Successes(net.Client2));
    }

    [Fact]
    public async Task Every_request_pays_the_pipes_delay_both_ways()
    {
        using var net = new ShopTopology("tcp-delay", delay: TimeSpan.FromMilliseconds(25), loss: 0, seed: 7);
        await using WebApplication service = await StockService.StartAsync(net.Server, Stock);
        using HttpClient http1 = VnetHttp.CreateClient(net.Client1);

        var clock = Stopwatch.StartNew();
        Assert.Equal(new StockLevel("apple", 3), await http1.GetFromJsonAsync<StockLevel>(Url("apple")).WaitAsync(TimeSpan.FromSeconds(20)));

        // SYN / SYN-ACK, then request / response: two round trips, each 25 ms out of the router in each direction.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(100), $"{clock.Elapsed.TotalMilliseconds} ms");
        Assert.Equal(0, net.PipeCounters().Dropped);
    }

    private static string Url(string sku) => $"http://{ShopTopology.ServerName}:{StockService.Port}/stock/{sku}";

    /// <summary>GET /stock/{sku} with the retry loop: 300 ms an attempt, until the deadline.</summary>
    private static Task<StockLevel> Ask(HttpClient http, Vnet client, string sku, TimeSpan? deadline = null) =>
        Retry.RunAsync(
            client,
            async ct => await http.GetFromJsonAsync<StockLevel>(Url(sku), ct).ConfigureAwait(false) ?? throw new InvalidDataException("empty body"),
            perAttempt: TimeSpan.FromMilliseconds(300),
            deadline: deadline ?? TimeSpan.FromSeconds(10));

    /// <summary>Polls a condition until it holds; fails the test if it does not within 10 s.</summary>
    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }
}
