using System.Globalization;
using Vimage.Net.Inet;

namespace Vimage.Cli.Lab;

/// <summary>
/// One <c>generators:</c> entry: a regular shape of <c>count</c> nodes named PREFIX1..PREFIXN, joined by links whose
/// interfaces are eth0, eth1, ... on each node in link order, addressed from <c>subnet</c> one /<c>link_prefix</c>
/// block per link (the first end takes the block's first host address, the second end the next), and, with
/// <c>routing: static</c>, the static routes and forwarding that make every address reachable from every node.
/// </summary>
internal sealed class LabGenerator(LabParser parser, YNode entry)
{
    private static readonly string[] Keys =
        ["shape", "count", "prefix", "kind", "fanout", "columns", "subnet", "link_prefix", "routing", "mtu", "delay", "jitter", "loss", "rate"];

    private const int MaxNodes = 100_000;

    private string _shape = "";
    private int _count;
    private string _prefix = "";
    private int _fanout = 2;
    private int _columns;
    private uint _subnet;
    private int _subnetLength;
    private int _linkPrefix = 30;
    private bool _routing;
    private int? _mtu;
    private LabImpairment _impairment = new(null, null, null, null);
    private readonly List<LabNode> _nodes = [];
    private int _linkIndex;
    private bool _hasSubnet;

    public void Expand()
    {
        if (!parser.Expect(entry, YNode.Kinds.Mapping, "a generator"))
        {
            return;
        }

        Dictionary<string, YNode> keys = parser.Keys(entry, "generator", Keys);
        if (!Read(keys))
        {
            return;
        }

        string? kind = keys.TryGetValue("kind", out YNode? k) ? parser.Scalar(k, "kind") : null;
        SourceSpot kindWhere = k?.Where ?? entry.Where;
        if (kind is not null && !parser.HasKind(kind))
        {
            parser.ApplyKind(new LabNode("x", kindWhere), kind, kindWhere); // reports the unknown kind
            return;
        }

        for (int i = 1; i <= _count; i++)
        {
            LabNode? node = parser.NewNode(_prefix + i.ToString(CultureInfo.InvariantCulture), entry.Where, kind, kindWhere);
            if (node is null)
            {
                return;
            }

            if (node.Base == NodeBase.Host)
            {
                parser.Report(kindWhere, "generators make vnet nodes only (a host node is a Linux namespace: list those under nodes:)");
                return;
            }

            _nodes.Add(node);
        }

        switch (_shape)
        {
            case "chain":
            case "ring":
                Chain(ring: _shape == "ring");
                break;
            case "star":
                Star();
                break;
            case "grid":
                Grid();
                break;
            case "tree":
                Tree();
                break;
        }
    }

    private bool Read(Dictionary<string, YNode> keys)
    {
        bool ok = true;
        if (!keys.TryGetValue("shape", out YNode? shape) || parser.Scalar(shape, "shape") is not { } s)
        {
            if (shape is null)
            {
                parser.Report(entry.Where, "generator without 'shape' (chain, ring, star, grid or tree)");
            }

            return false;
        }

        if (s is not ("chain" or "ring" or "star" or "grid" or "tree"))
        {
            parser.Report(shape.Where, $"unknown shape '{s}' (chain, ring, star, grid or tree)");
            return false;
        }

        _shape = s;
        if (!keys.TryGetValue("count", out YNode? count))
        {
            parser.Report(entry.Where, "generator without 'count' (how many nodes)");
            return false;
        }

        int min = s == "ring" ? 3 : 2;
        if (parser.Int(count, "count", min, MaxNodes) is not { } c)
        {
            return false;
        }

        _count = c;
        if (!keys.TryGetValue("prefix", out YNode? prefix) || parser.Scalar(prefix, "prefix") is not { } p)
        {
            if (prefix is null)
            {
                parser.Report(entry.Where, "generator without 'prefix' (nodes are named PREFIX1 .. PREFIXN)");
            }

            return false;
        }

        if (!LabParser.NodeNameRegex().IsMatch(p + "1") || p.Length > 50)
        {
            parser.Report(prefix.Where, $"bad prefix '{p}' for node names");
            return false;
        }

        _prefix = p;
        if (keys.TryGetValue("fanout", out YNode? fanout))
        {
            if (s != "tree")
            {
                parser.Report(fanout.Where, "fanout is for shape: tree");
                ok = false;
            }
            else
            {
                _fanout = parser.Int(fanout, "fanout", 1, 1000) ?? 0;
                ok &= _fanout > 0;
            }
        }

        if (keys.TryGetValue("columns", out YNode? columns))
        {
            if (s != "grid")
            {
                parser.Report(columns.Where, "columns is for shape: grid");
                ok = false;
            }
            else
            {
                _columns = parser.Int(columns, "columns", 1, MaxNodes) ?? 0;
                ok &= _columns > 0;
            }
        }
        else if (s == "grid")
        {
            _columns = (int)Math.Ceiling(Math.Sqrt(c));
        }

        if (keys.TryGetValue("link_prefix", out YNode? lp))
        {
            _linkPrefix = parser.Int(lp, "link_prefix", 8, 30) ?? 0;
            ok &= _linkPrefix > 0;
        }

        if (keys.TryGetValue("routing", out YNode? routing) && parser.Scalar(routing, "routing") is { } r)
        {
            if (r is not ("static" or "none"))
            {
                parser.Report(routing.Where, $"unknown routing '{r}' (static or none)");
                ok = false;
            }
            else if (r == "static" && s is "ring" or "grid")
            {
                parser.Report(routing.Where, $"routing: static is computed for chain, star and tree, not {s}");
                ok = false;
            }

            _routing = r == "static";
        }

        if (keys.TryGetValue("subnet", out YNode? subnet))
        {
            if (parser.Scalar(subnet, "subnet") is not { } text || !InAddr.TryParsePrefix(text, out InAddr net, out int len, -1) || len < 0)
            {
                parser.Report(subnet.Where, $"bad subnet '{subnet.Value}' (expected A.B.C.D/LEN)");
                return false;
            }

            _subnet = net.Value & InAddr.MaskOf(len);
            _subnetLength = len;
            _hasSubnet = true;
            long links = s switch { "ring" => c, "grid" => GridLinks(c, _columns), _ => c - 1 };
            long blocks = _linkPrefix >= len ? 1L << (_linkPrefix - len) : 0;
            if (links > blocks)
            {
                parser.Report(subnet.Where, $"subnet {text} holds {blocks} /{_linkPrefix} link networks; this {s} of {c} needs {links}");
                ok = false;
            }
        }
        else if (_routing)
        {
            parser.Report(routing!.Where, "routing: static needs a subnet to address the links from");
            ok = false;
        }

        if (keys.TryGetValue("mtu", out YNode? mtu))
        {
            _mtu = parser.Mtu(mtu);
        }

        _impairment = parser.Impairment(keys, $"generator {_prefix}");
        return ok;
    }

    private static long GridLinks(int count, int columns)
    {
        long links = 0;
        for (int i = 0; i < count; i++)
        {
            links += (i % columns + 1 < columns && i + 1 < count ? 1 : 0) + (i + columns < count ? 1 : 0);
        }

        return links;
    }

    private uint BlockSize => 1u << (32 - _linkPrefix);

    /// <summary>The first host address of link block <paramref name="index"/> (the second end has the next one).</summary>
    private InAddr Host(int index, int side) => new(_subnet + (uint)index * BlockSize + 1 + (uint)side);

    /// <summary>Joins two generated nodes with the next link block; returns the link index.</summary>
    private int Link(LabNode a, LabNode b)
    {
        int index = _linkIndex++;
        string aIf = "eth" + a.Interfaces.Count.ToString(CultureInfo.InvariantCulture);
        string bIf = "eth" + b.Interfaces.Count.ToString(CultureInfo.InvariantCulture);
        LabLink? link = parser.AddLink(a, aIf, entry.Where, b, bIf, entry.Where, entry.Where);
        if (link is null)
        {
            return index;
        }

        link.Mtu = _mtu;
        link.Impairment = _impairment;
        if (_hasSubnet)
        {
            link.AIf.Addresses.Add(new LabPrefix(Host(index, 0), _linkPrefix));
            link.BIf.Addresses.Add(new LabPrefix(Host(index, 1), _linkPrefix));
        }

        return index;
    }

    /// <summary>Routes to the link blocks [first, end) through <paramref name="gateway"/>: the fewest CIDR prefixes covering the range.</summary>
    private void RouteRange(LabNode node, int first, int end, InAddr gateway)
    {
        if (first >= end)
        {
            return;
        }

        ulong lo = _subnet + (ulong)first * BlockSize, hi = _subnet + (ulong)end * BlockSize;
        while (lo < hi)
        {
            int bits = lo == 0 ? 32 : System.Numerics.BitOperations.TrailingZeroCount(lo);
            while (bits > 0 && (1UL << bits) > hi - lo)
            {
                bits--;
            }

            node.Routes.Add(new LabRoute(new InAddr((uint)lo), 32 - bits, gateway));
            lo += 1UL << bits;
        }
    }

    private void Forwarding(LabNode node)
    {
        if (node.Interfaces.Count > 1 && !node.Sysctls.Any(s => s.Key == "net.inet.ip.forwarding"))
        {
            node.Sysctls.Add(new("net.inet.ip.forwarding", "1"));
        }
    }

    private void Chain(bool ring)
    {
        int n = _nodes.Count;
        for (int i = 0; i + 1 < n; i++)
        {
            Link(_nodes[i], _nodes[i + 1]);
        }

        if (ring)
        {
            Link(_nodes[n - 1], _nodes[0]);
        }

        if (!_routing)
        {
            return;
        }

        // node i: everything right of it through its right neighbour (default), the links left of its own left
        // link through the left neighbour; the last node's default points left.
        for (int i = 0; i < n; i++)
        {
            LabNode node = _nodes[i];
            if (i + 1 < n)
            {
                node.Routes.Add(new LabRoute(InAddr.Any, 0, Host(i, 1)));
            }
            else
            {
                node.Routes.Add(new LabRoute(InAddr.Any, 0, Host(i - 1, 0)));
            }

            if (i > 0 && i + 1 < n)
            {
                RouteRange(node, 0, i - 1, Host(i - 1, 0));
            }

            Forwarding(node);
        }
    }

    private void Star()
    {
        LabNode hub = _nodes[0];
        for (int i = 1; i < _nodes.Count; i++)
        {
            int link = Link(hub, _nodes[i]);
            if (_routing)
            {
                _nodes[i].Routes.Add(new LabRoute(InAddr.Any, 0, Host(link, 0)));
            }
        }

        if (_routing)
        {
            Forwarding(hub);
        }
    }

    private void Grid()
    {
        int n = _nodes.Count;
        for (int i = 0; i < n; i++)
        {
            if (i % _columns + 1 < _columns && i + 1 < n)
            {
                Link(_nodes[i], _nodes[i + 1]);
            }

            if (i + _columns < n)
            {
                Link(_nodes[i], _nodes[i + _columns]);
            }
        }
    }

    /// <summary>
    /// A complete tree (node i's parent is (i-1)/fanout), its links numbered in depth-first order so each subtree's
    /// links are one contiguous range of blocks: a parent reaches a child's subtree with a few prefixes, every
    /// other node reaches the rest through its default route to its parent.
    /// </summary>
    private void Tree()
    {
        int n = _nodes.Count;
        var size = new int[n];
        for (int i = n - 1; i >= 0; i--)
        {
            size[i] += 1;
            if (i > 0)
            {
                size[(i - 1) / _fanout] += size[i];
            }
        }

        var uplink = new int[n];
        var stack = new Stack<int>();
        stack.Push(0);
        while (stack.Count > 0)
        {
            int parent = stack.Pop();
            long firstChild = (long)parent * _fanout + 1;
            for (long c = Math.Min(n - 1, firstChild + _fanout - 1); c >= firstChild; c--)
            {
                stack.Push((int)c);
            }

            if (parent > 0)
            {
                uplink[parent] = Link(_nodes[(parent - 1) / _fanout], _nodes[parent]);
            }
        }

        if (!_routing)
        {
            return;
        }

        for (int i = 0; i < n; i++)
        {
            LabNode node = _nodes[i];
            if (i > 0)
            {
                node.Routes.Add(new LabRoute(InAddr.Any, 0, Host(uplink[i], 0)));
            }

            long firstChild = (long)i * _fanout + 1;
            for (long c = firstChild; c < Math.Min(n, firstChild + _fanout); c++)
            {
                int child = (int)c;
                RouteRange(node, uplink[child] + 1, uplink[child] + size[child], Host(uplink[child], 1));
            }

            Forwarding(node);
        }
    }
}
