using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Netdb;

namespace Vimage.AspNetCore.Tests;

/// <summary>
/// A client host and a server host. With VIMAGE: vnets "client" and "server", and when <c>routed</c> a "router"
/// vnet between them (two epairs, 10.N.1.0/24 and 10.N.2.0/24, net.inet.ip.forwarding=1, default routes through
/// it); else one epair and 10.N.1.0/24. Without VIMAGE both hosts are vnet0 with an epair's two ends in it (a fresh
/// subnet per fixture), so traffic between the addresses loops through lo0, as in Vimage.Net.Tests' StackFixture.
/// </summary>
internal sealed class VnetNet : IDisposable
{
    private static int s_subnet;
    private readonly List<Vnet> _vnets = [];
    private readonly List<Ifnet> _epairs = [];
    private readonly List<string> _names = [];

    private VnetNet(string name, bool routed)
    {
        int n = 100 + (Interlocked.Increment(ref s_subnet) % 150);
        if (!Vnet.IsVimage)
        {
            Client = Server = Vnet.Vnet0;
            ClientAddress = InAddr.Parse($"10.{n}.1.1");
            ServerAddress = InAddr.Parse($"10.{n}.1.2");
            Link(Vnet.Vnet0, $"{ClientAddress}/24", Vnet.Vnet0, $"{ServerAddress}/24");
            return;
        }

        Client = New($"{name}-client");
        Server = New($"{name}-server");
        if (!routed)
        {
            ClientAddress = InAddr.Parse($"10.{n}.1.1");
            ServerAddress = InAddr.Parse($"10.{n}.1.2");
            Link(Client, $"{ClientAddress}/24", Server, $"{ServerAddress}/24");
            return;
        }

        Router = New($"{name}-router");
        ClientAddress = InAddr.Parse($"10.{n}.1.2");
        ServerAddress = InAddr.Parse($"10.{n}.2.2");
        Link(Router, $"10.{n}.1.1/24", Client, $"{ClientAddress}/24"); // both epairs are the router's (unit numbers are per home vnet)
        Link(Router, $"10.{n}.2.1/24", Server, $"{ServerAddress}/24");
        Sysctl.Set("net.inet.ip.forwarding", "1", Router);
        using (Curvnet.Set(Client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.{n}.1.1"));
        }

        using (Curvnet.Set(Server))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.{n}.2.1"));
        }
    }

    public Vnet Client { get; }

    public Vnet Server { get; }

    public Vnet? Router { get; }

    public InAddr ClientAddress { get; }

    public InAddr ServerAddress { get; }

    public bool TwoVnets => Client != Server;

    /// <summary>The source address the server sees: without VIMAGE both ends are local and the route to the server's address is lo0, whose source is that address itself.</summary>
    public InAddr PeerAddress => TwoVnets ? ClientAddress : ServerAddress;

    /// <summary>Names <see cref="ServerAddress"/> <paramref name="name"/> in the client's hosts table until Dispose (vnet0's table outlives the fixture).</summary>
    public void AddHost(string name)
    {
        Hosts.Add(Client, name, ServerAddress);
        _names.Add(name);
    }

    public static VnetNet Create(string name, bool routed = false) => new(name, routed);

    public void Dispose()
    {
        foreach (string name in _names.Where(_ => Client.State == VnetState.Live))
        {
            Hosts.Remove(Client, name);
        }

        foreach (Vnet v in Enumerable.Reverse(_vnets).Where(v => v.State == VnetState.Live))
        {
            v.Destroy();
        }

        foreach (Ifnet a in _epairs.Where(e => !e.IsDetached))
        {
            using (Curvnet.Set(a.HomeVnet))
            {
                Ifnets.Destroy(a.Name);
            }
        }
    }

    private Vnet New(string name)
    {
        Vnet v = Vnet.Create(name);
        _vnets.Add(v);
        return v;
    }

    private void Link(Vnet left, string leftPrefix, Vnet right, string rightPrefix)
    {
        Ifnet a, b;
        using (Curvnet.Set(left))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (a, b) = (pair[0], pair[1]);
            _epairs.Add(a);
            if (right != left)
            {
                Ifnets.Loan(b.Name, right);
            }

            a.SetUp(true);
            Configure(a, leftPrefix);
        }

        using (Curvnet.Set(right))
        {
            b.SetUp(true);
            Configure(b, rightPrefix);
        }
    }

    private static void Configure(Ifnet ifp, string prefix)
    {
        Assert.True(InAddr.TryParsePrefix(prefix, out InAddr address, out int length));
        InAddrs.Add(ifp, address, length);
    }
}
