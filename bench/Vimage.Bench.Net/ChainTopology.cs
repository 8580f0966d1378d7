using System.Globalization;
using System.Net;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;

namespace Vimage.Bench.Net;

/// <summary>
/// The <c>chain</c> mode's topology, the same on both sides: a client, <c>N</c> routers and a server in a line,
/// link <c>i</c> joining hop <c>i</c> (10.i.0.1/24) and hop <c>i+1</c> (10.i.0.2/24). The client's and each
/// router's default route points right; each router from the second on reaches the client's network through its
/// left neighbour; the server's default route points left; the routers forward (net.inet.ip.forwarding=1,
/// net.ipv4.ip_forward=1). Vimage: N+2 vnets joined by epairs. Linux: N+2 network namespaces joined by veth pairs.
/// </summary>
internal static class ChainTopology
{
    public static string Far(int routers) => $"10.{routers}.0.2";

    public static InetVimage Vimage(int routers)
    {
        if (!Vnet.IsVimage)
        {
            throw new InvalidOperationException("chain needs the VIMAGE build (-p:Vimage=true): one vnet cannot be a chain");
        }

        var vnets = new Vnet[routers + 2];
        var links = new List<(Ifnet A, Ifnet B)>();
        for (int i = 0; i < vnets.Length; i++)
        {
            vnets[i] = VnetPair.Create($"chain{i}", $"chain{i}x").A;
        }

        for (int i = 0; i + 1 < vnets.Length; i++)
        {
            int n = i;
            links.Add(VnetPair.Epair(vnets[i], vnets[i + 1], a => InAddrs.Add(a, InAddr.Parse($"10.{n}.0.1"), 24),
                b => InAddrs.Add(b, InAddr.Parse($"10.{n}.0.2"), 24)));
        }

        for (int i = 0; i < vnets.Length; i++)
        {
            using (Curvnet.Set(vnets[i]))
            {
                if (i + 1 < vnets.Length)
                {
                    Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.{i}.0.2"));
                }
                else
                {
                    Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.{i - 1}.0.1"));
                }

                if (i > 1 && i + 1 < vnets.Length)
                {
                    Routes.AddGateway(InAddr.Parse("10.0.0.0"), 24, InAddr.Parse($"10.{i - 1}.0.1"));
                }
            }

            if (i > 0 && i + 1 < vnets.Length)
            {
                Sysctl.Set("net.inet.ip.forwarding", "1", vnets[i]);
            }
        }

        void Destroy()
        {
            foreach ((Ifnet a, _) in links)
            {
                if (!a.IsDetached && a.HomeVnet.State == VnetState.Live)
                {
                    using (Curvnet.Set(a.HomeVnet))
                    {
                        Ifnets.Destroy(a.Name);
                    }
                }
            }

            for (int i = vnets.Length - 1; i >= 0; i--)
            {
                vnets[i].Destroy();
            }
        }

        return new InetVimage(vnets[0], links[0].A, vnets[^1], links[^1].B, InAddr.Parse(Far(routers)),
            $"{routers} router vnets between vnet {vnets[0].Name} (10.0.0.1) and vnet {vnets[^1].Name} ({Far(routers)}), epairs", Destroy);
    }

    public static InetLinux? TryLinux(int routers, out string reason)
    {
        reason = "";
        if (!OperatingSystem.IsLinux())
        {
            reason = "not Linux";
            return null;
        }

        if (Native.GetEuid() != 0)
        {
            reason = "not root (creating network namespaces and raw ICMP sockets needs CAP_SYS_ADMIN and CAP_NET_RAW)";
            return null;
        }

        var chain = new NetnsChain(routers + 2);
        try
        {
            chain.Setup();
            return new InetLinux(chain, new NetnsEnd(chain.Ns(0), chain.IfA(0)), new NetnsEnd(chain.Ns(routers + 1), chain.IfB(routers)),
                IPAddress.Parse(Far(routers)), $"{routers} router netns between netns {chain.Ns(0)} (10.0.0.1) and netns {chain.Ns(routers + 1)} ({Far(routers)}), veth pairs");
        }
        catch (Exception e)
        {
            chain.Dispose();
            reason = e.Message;
            return null;
        }
    }

    /// <summary>N network namespaces in a line joined by veth pairs; deleted on Dispose and at process exit.</summary>
    private sealed class NetnsChain(int hops) : IDisposable
    {
        private readonly int _pid = Environment.ProcessId;
        private int _created;
        private int _disposed;

        public string Ns(int i) => string.Create(CultureInfo.InvariantCulture, $"vbench-c{i}-{_pid}");

        public string IfA(int link) => string.Create(CultureInfo.InvariantCulture, $"vc{link}a{_pid}"); // IFNAMSIZ: at most 15

        public string IfB(int link) => string.Create(CultureInfo.InvariantCulture, $"vc{link}b{_pid}");

        public void Setup()
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
            Console.CancelKeyPress += (_, _) => Dispose();
            for (int i = 0; i < hops; i++)
            {
                NetnsPair.Ip($"netns add {Ns(i)}");
                _created = i + 1;
                NetnsPair.TryRun("ip", $"netns exec {Ns(i)} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
            }

            for (int l = 0; l + 1 < hops; l++)
            {
                NetnsPair.Ip($"-n {Ns(l)} link add {IfA(l)} type veth peer name {IfB(l)} netns {Ns(l + 1)}");
                NetnsPair.Ip($"-n {Ns(l)} addr add 10.{l}.0.1/24 dev {IfA(l)}");
                NetnsPair.Ip($"-n {Ns(l + 1)} addr add 10.{l}.0.2/24 dev {IfB(l)}");
                NetnsPair.Ip($"-n {Ns(l)} link set {IfA(l)} up");
                NetnsPair.Ip($"-n {Ns(l + 1)} link set {IfB(l)} up");
            }

            for (int i = 0; i < hops; i++)
            {
                NetnsPair.Ip(i + 1 < hops ? $"-n {Ns(i)} route add default via 10.{i}.0.2" : $"-n {Ns(i)} route add default via 10.{i - 1}.0.1");
                if (i > 1 && i + 1 < hops)
                {
                    NetnsPair.Ip($"-n {Ns(i)} route add 10.0.0.0/24 via 10.{i - 1}.0.1");
                }

                if (i > 0 && i + 1 < hops)
                {
                    (int code, string output) = NetnsPair.TryRun("ip", $"netns exec {Ns(i)} sysctl -qw net.ipv4.ip_forward=1");
                    if (code != 0)
                    {
                        throw new InvalidOperationException($"ip_forward in {Ns(i)}: {output.Trim()}");
                    }
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            for (int i = 0; i < _created; i++)
            {
                NetnsPair.TryRun("ip", $"netns del {Ns(i)}"); // deleting a namespace destroys its veth ends
            }
        }
    }
}
