using System.Text.Json;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Lab;

/// <summary>What a running node looks like now, read from its stack (vnet) or with ip(8) (host).</summary>
public sealed record NodeView(string Name, string Kind, NodeBase Base, string Where, string State, IReadOnlyList<InterfaceView> Interfaces,
    IReadOnlyList<LabRoute> Routes);

/// <summary>One interface now: MTU, up or down, addresses, and the node:interface at the other end of its link.</summary>
public sealed record InterfaceView(string Name, int Mtu, bool Up, IReadOnlyList<LabPrefix> Addresses, string Peer);

/// <summary><c>lab inspect</c>: the lab as it runs (a table, or JSON with <c>--json</c>).</summary>
public static class LabInspect
{
    public static NodeView View(LabNodeRuntime node)
    {
        var interfaces = new List<InterfaceView>();
        var routes = new List<LabRoute>();
        string where;
        if (node.Jail is { } jail)
        {
            where = $"jid {jail.Jid}";
            if (!jail.IsRemoved)
            {
                using (Curvnet.Set(jail.Vnet))
                {
                    IReadOnlyList<InIfaddr> addresses = InAddrs.All;
                    foreach (LabInterface spec in node.Spec.Interfaces)
                    {
                        if (Ifnets.TryFind(spec.Name) is not { } ifp)
                        {
                            interfaces.Add(new InterfaceView(spec.Name, 0, false, [], Peer(node.Spec, spec)));
                            continue;
                        }

                        var list = new List<LabPrefix>();
                        foreach (InIfaddr ia in addresses)
                        {
                            if (ia.Interface == ifp)
                            {
                                list.Add(new LabPrefix(ia.Address, ia.PrefixLength));
                            }
                        }

                        interfaces.Add(new InterfaceView(spec.Name, ifp.Mtu, ifp.IsUp, list, Peer(node.Spec, spec)));
                    }

                    foreach (Rtentry rt in Vimage.Net.Inet.Routes.Sorted(Vimage.Net.Inet.Routes.All))
                    {
                        if (rt.IsGateway && (rt.Flags & RtFlags.RTF_STATIC) != 0)
                        {
                            routes.Add(new LabRoute(rt.Destination, rt.PrefixLength, rt.Gateway));
                        }
                    }
                }
            }
        }
        else
        {
            HostNode host = node.Host!;
            where = $"netns {host.Netns}";
            if (!host.IsGone)
            {
                ReadHost(host, node.Spec, interfaces, routes);
            }
        }

        return new NodeView(node.Name, node.Spec.Kind, node.Spec.Base, where, node.State, interfaces, routes);
    }

    private static string Peer(LabNode node, LabInterface spec)
    {
        if (spec.Link is not { } link)
        {
            return "";
        }

        return link.AIf == spec && link.A == node ? $"{link.B.Name}:{link.BIf.Name}" : $"{link.A.Name}:{link.AIf.Name}";
    }

    private static void ReadHost(HostNode host, LabNode spec, List<InterfaceView> interfaces, List<LabRoute> routes)
    {
        (int _, string links) = HostNode.RunCaptured("ip", ["-n", host.Netns, "-o", "link", "show"]);
        (int _, string addrs) = HostNode.RunCaptured("ip", ["-n", host.Netns, "-o", "-4", "addr", "show"]);
        (int _, string table) = HostNode.RunCaptured("ip", ["-n", host.Netns, "-4", "route", "show"]);
        foreach (LabInterface iface in spec.Interfaces)
        {
            int mtu = 0;
            bool up = false;
            foreach (string line in links.Split('\n'))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 4 && f[1].TrimEnd(':').Split('@')[0] == iface.Name)
                {
                    up = f[2].Contains("UP", StringComparison.Ordinal);
                    int m = Array.IndexOf(f, "mtu");
                    if (m > 0 && m + 1 < f.Length)
                    {
                        _ = int.TryParse(f[m + 1], out mtu);
                    }
                }
            }

            var list = new List<LabPrefix>();
            foreach (string line in addrs.Split('\n'))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 3 && f[1] == iface.Name && f[2] == "inet" && InAddr.TryParsePrefix(f[3], out InAddr a, out int len))
                {
                    list.Add(new LabPrefix(a, len));
                }
            }

            interfaces.Add(new InterfaceView(iface.Name, mtu, up, list, Peer(spec, iface)));
        }

        foreach (string line in table.Split('\n'))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 3 && f[1] == "via" && InAddr.TryParse(f[2], out InAddr gw))
            {
                if (f[0] == "default")
                {
                    routes.Add(new LabRoute(InAddr.Any, 0, gw));
                }
                else if (InAddr.TryParsePrefix(f[0], out InAddr dst, out int len))
                {
                    routes.Add(new LabRoute(dst, len, gw));
                }
            }
        }
    }

    public static void WriteTable(LabRuntime lab, TextWriter output)
    {
        output.WriteLine($"lab {lab.Name}: {lab.Nodes.Count} nodes, {lab.Plan.Links.Count} links, from {lab.Plan.File}, deployed {lab.DeployedAt:yyyy-MM-dd HH:mm:ss}Z in {lab.DeployTime.TotalSeconds:0.000} s");
        output.WriteLine($"{"NODE",-16} {"KIND",-8} {"WHERE",-24} {"STATE",-8} {"INTERFACE",-10} {"MTU",5} {"UP",-3} {"ADDRESSES",-20} PEER");
        foreach (LabNodeRuntime node in lab.Nodes)
        {
            NodeView view = View(node);
            if (view.Interfaces.Count == 0)
            {
                output.WriteLine($"{view.Name,-16} {view.Kind,-8} {view.Where,-24} {view.State,-8}");
                continue;
            }

            bool first = true;
            foreach (InterfaceView i in view.Interfaces)
            {
                string head = first ? $"{view.Name,-16} {view.Kind,-8} {view.Where,-24} {view.State,-8}" : new string(' ', 16 + 1 + 8 + 1 + 24 + 1 + 8);
                output.WriteLine($"{head} {i.Name,-10} {i.Mtu,5} {(i.Up ? "yes" : "no"),-3} {string.Join(",", i.Addresses),-20} {i.Peer}");
                first = false;
            }
        }
    }

    public static void WriteJson(LabRuntime lab, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("name", lab.Name);
            json.WriteString("file", lab.Plan.File);
            json.WriteString("deployed", lab.DeployedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteNumber("deploy_seconds", Math.Round(lab.DeployTime.TotalSeconds, 3));
            json.WriteNumber("links", lab.Plan.Links.Count);
            json.WriteStartArray("nodes");
            foreach (LabNodeRuntime node in lab.Nodes)
            {
                NodeView view = View(node);
                json.WriteStartObject();
                json.WriteString("name", view.Name);
                json.WriteString("kind", view.Kind);
                json.WriteString("base", view.Base == NodeBase.Vnet ? "vnet" : "host");
                if (node.Jail is { } jail)
                {
                    json.WriteNumber("jid", jail.Jid);
                }
                else
                {
                    json.WriteString("netns", node.Host!.Netns);
                }

                json.WriteString("state", view.State);
                json.WriteStartArray("interfaces");
                foreach (InterfaceView i in view.Interfaces)
                {
                    json.WriteStartObject();
                    json.WriteString("name", i.Name);
                    json.WriteNumber("mtu", i.Mtu);
                    json.WriteBoolean("up", i.Up);
                    json.WriteStartArray("addresses");
                    foreach (LabPrefix a in i.Addresses)
                    {
                        json.WriteStringValue(a.ToString());
                    }

                    json.WriteEndArray();
                    json.WriteString("peer", i.Peer);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteStartArray("routes");
                foreach (LabRoute r in view.Routes)
                {
                    json.WriteStringValue(r.ToString());
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
