using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Dummynet;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Netdb;

namespace ShopNetwork;

/// <summary>
/// The network the shop runs on, built in one process: vnet "server" (10.0.0.2), two client vnets (10.0.1.2,
/// 10.0.2.2) and a router vnet between them, each leaf joined to the router by an epair. The router forwards, and
/// a dummynet pipe on its way out (delay, loss) makes every link lossy and slow; ipfw rules in the router cut a
/// client off and let it back in.
/// </summary>
public sealed class ShopTopology : IDisposable
{
    public const int PipeNumber = 1;
    private const int AllowRule = 65000;
    private readonly List<Vnet> _vnets = [];

    public ShopTopology(string name, TimeSpan delay, double loss, ulong seed)
    {
        Router = NewVnet($"{name}-router");
        Server = NewVnet($"{name}-server");
        Client1 = NewVnet($"{name}-client1");
        Client2 = NewVnet($"{name}-client2");
        Link(Server, 0);
        Link(Client1, 1);
        Link(Client2, 2);
        Sysctl.Set("net.inet.ip.forwarding", "1", Router);
        foreach (Vnet client in new[] { Client1, Client2 })
        {
            Hosts.Add(client, ServerName, ServerAddress); // each client's /etc/hosts: "10.0.0.2 shop"
        }

        // ipfw pipe 1 config delay D plr P seed S; ipfw add 100 pipe 1 ip from any to any out; ipfw add 65000 allow ip
        using (Curvnet.Set(Router))
        {
            IpFw.Load();
            DnIo.Tables.ConfigurePipe(PipeNumber, new DnPipeConfig
            {
                DelayUs = (long)(delay.TotalMilliseconds * 1000),
                Plr = loss,
                Seed = seed,
            });
            IpFw.Chain.Add(new IpFwRule { Number = 100, Action = IpFwAction.Pipe, Argument = PipeNumber, Direction = IpFwDir.Out }, IpFw.AutoincStep);
            IpFw.Chain.Add(new IpFwRule { Number = AllowRule, Action = IpFwAction.Allow }, IpFw.AutoincStep);
        }
    }

    public Vnet Router { get; }

    public Vnet Server { get; }

    public Vnet Client1 { get; }

    public Vnet Client2 { get; }

    public const string ServerName = "shop";

    public static InAddr ServerAddress { get; } = InAddr.Parse("10.0.0.2");

    /// <summary>The address a leaf vnet has on its link to the router.</summary>
    public InAddr AddressOf(Vnet leaf) => InAddr.Parse($"10.0.{Subnet(leaf)}.2");

    /// <summary>ipfw add 10N deny ip from 10.0.N.0/24 to any; ipfw add 20N deny ip from any to 10.0.N.0/24 — in the router.</summary>
    public void Partition(Vnet client)
    {
        int n = Subnet(client);
        IpFwAddr net = IpFwAddr.Net(InAddr.Parse($"10.0.{n}.0").Value, 24);
        using (Curvnet.Set(Router))
        {
            IpFw.Chain.Add(new IpFwRule { Number = 10 + n, Action = IpFwAction.Deny, Source = net }, IpFw.AutoincStep);
            IpFw.Chain.Add(new IpFwRule { Number = 20 + n, Action = IpFwAction.Deny, Destination = net }, IpFw.AutoincStep);
        }
    }

    /// <summary>ipfw delete 10N 20N.</summary>
    public void Heal(Vnet client)
    {
        int n = Subnet(client);
        using (Curvnet.Set(Router))
        {
            IpFw.Chain.Delete(10 + n);
            IpFw.Chain.Delete(20 + n);
        }
    }

    /// <summary>Packets the pipe dropped so far (plr), and packets that entered it.</summary>
    public (long Dropped, long Passed) PipeCounters()
    {
        using (Curvnet.Set(Router))
        {
            DnPipe pipe = DnIo.Tables.FindPipe(PipeNumber) ?? throw new InvalidOperationException("pipe 1 is gone");
            return (pipe.Drops, pipe.TotalPackets);
        }
    }

    public void Dispose()
    {
        foreach (Vnet v in Enumerable.Reverse(_vnets))
        {
            if (v.State == VnetState.Live)
            {
                v.Destroy();
            }
        }
    }

    private Vnet NewVnet(string name)
    {
        Vnet v = Vnet.Create(name);
        _vnets.Add(v);
        return v;
    }

    private int Subnet(Vnet leaf) =>
        leaf == Server ? 0 : leaf == Client1 ? 1 : leaf == Client2 ? 2 : throw new ArgumentException($"{leaf.Name} is not a leaf", nameof(leaf));

    /// <summary>ifconfig epair create; router end 10.0.N.1/24, leaf end 10.0.N.2/24; the leaf's default route via the router.</summary>
    private void Link(Vnet leaf, int n)
    {
        Ifnet routerEnd, leafEnd;
        using (Curvnet.Set(Router))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (routerEnd, leafEnd) = (pair[0], pair[1]);
            Ifnets.Loan(leafEnd.Name, leaf);
            routerEnd.SetUp(true);
            InAddrs.Add(routerEnd, InAddr.Parse($"10.0.{n}.1"), 24);
        }

        using (Curvnet.Set(leaf))
        {
            leafEnd.SetUp(true);
            InAddrs.Add(leafEnd, InAddr.Parse($"10.0.{n}.2"), 24);
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.0.{n}.1"));
        }
    }
}
