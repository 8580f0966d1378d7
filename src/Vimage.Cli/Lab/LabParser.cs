using System.Globalization;
using System.Text.RegularExpressions;
using Vimage.Cli.Commands.Ipfw;
using Vimage.Core;
using Vimage.Net.Dummynet;
using Vimage.Net.Inet;

namespace Vimage.Cli.Lab;

/// <summary>
/// Reads a topology file (docs/labs.md) into a <see cref="LabPlan"/>: defaults, kinds, nodes, links and generators,
/// checked whole. Every problem is collected with its FILE:LINE:COLUMN and reported at once in a
/// <see cref="LabValidationException"/>; a plan is returned only when there is none.
/// </summary>
public sealed partial class LabParser
{
    private static readonly string[] TopKeys = ["name", "defaults", "kinds", "nodes", "links", "generators"];
    private static readonly string[] DefaultKeys = ["kind", "mtu", "sysctls"];
    private static readonly string[] KindKeys = ["base", "mtu", "sysctls", "ipfw", "exec"];
    private static readonly string[] NodeKeys = ["kind", "mtu", "interfaces", "routes", "sysctls", "ipfw", "exec"];
    private static readonly string[] LinkKeys = ["endpoints", "mtu", "delay", "jitter", "loss", "rate"];

    private readonly string _file;
    private readonly List<LabError> _errors = [];
    private readonly Dictionary<string, KindSettings> _kinds = new(StringComparer.Ordinal);
    private readonly Dictionary<LabInterface, SourceSpot> _ifaceOwners = [];
    private string _defaultKind = "vnet";
    private int? _defaultMtu;
    private List<KeyValuePair<string, string>> _defaultSysctls = [];
    private LabPlan _plan = null!;

    private LabParser(string file)
    {
        _file = file;
        _ = Vnet.Vnet0; // boots the stack, so sysctl names and dummynet's limits can be checked
        Vimage.Net.Stack.NetStack.EnsureInitialized();
    }

    /// <summary>A kind's settings: its base (vnet or host) and what every node of the kind gets.</summary>
    private sealed class KindSettings(NodeBase nodeBase)
    {
        public NodeBase Base { get; set; } = nodeBase;

        public int? Mtu { get; set; }

        public List<KeyValuePair<string, string>> Sysctls { get; } = [];

        public List<string> Ipfw { get; } = [];

        public List<string> Exec { get; } = [];
    }

    /// <summary>Reads and checks <paramref name="path"/>.</summary>
    public static LabPlan ParseFile(string path, string? shownAs = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LabValidationException([new LabError(new SourceSpot(shownAs ?? path, 1, 1), $"cannot read the file: {e.Message}")]);
        }

        return Parse(shownAs ?? path, text);
    }

    /// <summary>Checks a topology given as text; <paramref name="file"/> names it in errors.</summary>
    public static LabPlan Parse(string file, string text)
    {
        var parser = new LabParser(file);
        LabPlan? plan = parser.Run(text);
        if (parser._errors.Count > 0 || plan is null)
        {
            throw new LabValidationException([.. parser._errors.OrderBy(e => e.Where.Line).ThenBy(e => e.Where.Column)]);
        }

        return plan;
    }

    private void Error(SourceSpot where, string message) => _errors.Add(new LabError(where, message));

    private LabPlan? Run(string text)
    {
        _kinds["vnet"] = new KindSettings(NodeBase.Vnet);
        _kinds["host"] = new KindSettings(NodeBase.Host);
        YNode? root = YNode.Load(_file, new StringReader(text), _errors);
        if (root is null)
        {
            return null;
        }

        if (root.Kind != YNode.Kinds.Mapping)
        {
            Error(root.Where, $"a topology file is a mapping (name:, nodes:, links: ...), not {root.Describe()}");
            return null;
        }

        Dictionary<string, YNode> top = Keys(root, "the topology", TopKeys);
        string name = "lab";
        if (!top.TryGetValue("name", out YNode? nameNode))
        {
            Error(root.Where, "missing key 'name' (the lab's name)");
        }
        else if (Scalar(nameNode, "name") is { } n)
        {
            if (!LabNameRegex().IsMatch(n))
            {
                Error(nameNode.Where, $"bad lab name '{n}' (1 to 64 letters, digits, '-' or '_')");
            }

            name = n;
        }

        _plan = new LabPlan(name, _file);
        if (top.TryGetValue("kinds", out YNode? kinds))
        {
            ReadKinds(kinds);
        }

        if (top.TryGetValue("defaults", out YNode? defaults))
        {
            ReadDefaults(defaults);
        }

        if (top.TryGetValue("nodes", out YNode? nodes))
        {
            ReadNodes(nodes);
        }

        if (top.TryGetValue("generators", out YNode? generators))
        {
            if (Expect(generators, YNode.Kinds.Sequence, "generators"))
            {
                foreach (YNode g in generators.Items)
                {
                    new LabGenerator(this, g).Expand();
                }
            }
        }

        if (top.TryGetValue("links", out YNode? links))
        {
            ReadLinks(links);
        }

        if (_plan.Nodes.Count == 0 && _errors.Count == 0)
        {
            Error(root.Where, "the lab has no nodes (add nodes: or generators:)");
        }

        CheckNodes();
        return _plan;
    }

    // ---- kinds and defaults

    private void ReadKinds(YNode kinds)
    {
        if (!Expect(kinds, YNode.Kinds.Mapping, "kinds"))
        {
            return;
        }

        foreach ((YNode key, YNode value) in UniquePairs(kinds, "kind"))
        {
            string kindName = key.Value;
            if (!NodeNameRegex().IsMatch(kindName))
            {
                Error(key.Where, $"bad kind name '{kindName}'");
                continue;
            }

            KindSettings settings = _kinds.TryGetValue(kindName, out KindSettings? builtin) ? builtin : new KindSettings(NodeBase.Vnet);
            _kinds[kindName] = settings;
            if (value.IsNull)
            {
                continue;
            }

            if (!Expect(value, YNode.Kinds.Mapping, $"kind {kindName}"))
            {
                continue;
            }

            Dictionary<string, YNode> keys = Keys(value, $"kind {kindName}", KindKeys);
            if (keys.TryGetValue("base", out YNode? b) && Scalar(b, "base") is { } baseName)
            {
                if (kindName is "vnet" or "host" && baseName != kindName)
                {
                    Error(b.Where, $"kind {kindName} is built in: its base cannot be changed");
                }
                else if (baseName is "vnet" or "host")
                {
                    settings.Base = baseName == "vnet" ? NodeBase.Vnet : NodeBase.Host;
                }
                else
                {
                    Error(b.Where, $"unknown base '{baseName}' (vnet or host)");
                }
            }

            if (keys.TryGetValue("mtu", out YNode? mtu))
            {
                settings.Mtu = Mtu(mtu);
            }

            if (keys.TryGetValue("sysctls", out YNode? sysctls))
            {
                settings.Sysctls.AddRange(Sysctls(sysctls, settings.Base));
            }

            if (keys.TryGetValue("ipfw", out YNode? ipfw))
            {
                settings.Ipfw.AddRange(Lines(ipfw, "ipfw"));
            }

            if (keys.TryGetValue("exec", out YNode? exec))
            {
                settings.Exec.AddRange(Lines(exec, "exec"));
            }
        }
    }

    private void ReadDefaults(YNode defaults)
    {
        if (!Expect(defaults, YNode.Kinds.Mapping, "defaults"))
        {
            return;
        }

        Dictionary<string, YNode> keys = Keys(defaults, "defaults", DefaultKeys);
        if (keys.TryGetValue("kind", out YNode? kind) && Scalar(kind, "kind") is { } k)
        {
            if (_kinds.ContainsKey(k))
            {
                _defaultKind = k;
            }
            else
            {
                Error(kind.Where, UnknownKind(k));
            }
        }

        if (keys.TryGetValue("mtu", out YNode? mtu))
        {
            _defaultMtu = Mtu(mtu);
        }

        if (keys.TryGetValue("sysctls", out YNode? sysctls))
        {
            _defaultSysctls = Sysctls(sysctls, NodeBase.Vnet);
        }
    }

    private string UnknownKind(string k) =>
        $"unknown kind '{k}' (known: {string.Join(", ", _kinds.Keys.Order(StringComparer.Ordinal))})";

    // ---- nodes

    private void ReadNodes(YNode nodes)
    {
        if (!Expect(nodes, YNode.Kinds.Mapping, "nodes"))
        {
            return;
        }

        foreach ((YNode key, YNode value) in nodes.Pairs)
        {
            // the node's own kind replaces the default one before any settings are merged
            (YNode Key, YNode Value) kindPair = value.Kind == YNode.Kinds.Mapping
                ? value.Pairs.FirstOrDefault(p => p.Key.Kind == YNode.Kinds.Scalar && p.Key.Value == "kind")
                : default;
            string? ownKind = kindPair.Value is { Kind: YNode.Kinds.Scalar, IsNull: false } k ? k.Value : null;
            LabNode? node = NewNode(key.Value, key.Where, ownKind, kindPair.Value?.Where ?? key.Where);
            if (node is null || value.IsNull)
            {
                continue;
            }

            if (!Expect(value, YNode.Kinds.Mapping, $"node {node.Name}"))
            {
                continue;
            }

            Dictionary<string, YNode> keys = Keys(value, $"node {node.Name}", NodeKeys);
            if (keys.TryGetValue("kind", out YNode? kind))
            {
                _ = Scalar(kind, "kind"); // applied above; reports a kind that is not a value
            }

            if (keys.TryGetValue("mtu", out YNode? mtu))
            {
                node.Mtu = Mtu(mtu) ?? node.Mtu;
            }

            if (keys.TryGetValue("sysctls", out YNode? sysctls))
            {
                node.Sysctls.AddRange(Sysctls(sysctls, node.Base));
            }

            if (keys.TryGetValue("ipfw", out YNode? ipfw))
            {
                if (node.Base == NodeBase.Host)
                {
                    Error(ipfw.Where, $"node {node.Name}: ipfw rules need a vnet node (host nodes use Linux's own tools via exec)");
                }

                node.Ipfw.AddRange(Lines(ipfw, "ipfw"));
            }

            if (keys.TryGetValue("exec", out YNode? exec))
            {
                node.Exec.AddRange(Lines(exec, "exec"));
            }

            if (keys.TryGetValue("interfaces", out YNode? interfaces))
            {
                ReadInterfaces(node, interfaces);
            }

            if (keys.TryGetValue("routes", out YNode? routes))
            {
                ReadRoutes(node, routes);
            }
        }
    }

    /// <summary>Adds a node with the default kind's settings; null (and an error) when the name is bad or taken.</summary>
    internal LabNode? NewNode(string name, SourceSpot where, string? kind, SourceSpot kindWhere)
    {
        if (!NodeNameRegex().IsMatch(name))
        {
            Error(where, $"bad node name '{name}' (a letter or '_' first, then up to 62 letters, digits, '-' or '_')");
            return null;
        }

        if (_plan.ByName.TryGetValue(name, out LabNode? first))
        {
            Error(where, $"duplicate node name '{name}' (first defined at {first.Where.Line}:{first.Where.Column})");
            return null;
        }

        var node = new LabNode(name, where);
        node.Sysctls.AddRange(_defaultSysctls);
        node.Mtu = _defaultMtu;
        ApplyKind(node, kind ?? _defaultKind, kindWhere);
        _plan.ByName.Add(name, node);
        _plan.Nodes.Add(node);
        return node;
    }

    internal bool ApplyKind(LabNode node, string kind, SourceSpot where)
    {
        if (!_kinds.TryGetValue(kind, out KindSettings? settings))
        {
            Error(where, UnknownKind(kind));
            return false;
        }

        node.Kind = kind;
        node.Base = settings.Base;
        node.Mtu = settings.Mtu ?? node.Mtu;
        node.Sysctls.AddRange(settings.Sysctls);
        node.Ipfw.AddRange(settings.Ipfw);
        node.Exec.AddRange(settings.Exec);
        if (node.Base == NodeBase.Host)
        {
            // sysctl names from defaults were checked against the FreeBSD tree: on a Linux host node they are
            // Linux's, so the defaults' ones do not apply.
            node.Sysctls.RemoveAll(s => _defaultSysctls.Contains(s));
        }

        return true;
    }

    private void ReadInterfaces(LabNode node, YNode interfaces)
    {
        if (!Expect(interfaces, YNode.Kinds.Mapping, $"interfaces of {node.Name}"))
        {
            return;
        }

        foreach ((YNode key, YNode value) in UniquePairs(interfaces, "interface"))
        {
            if (!CheckIfName(key.Value, key.Where))
            {
                continue;
            }

            LabInterface iface = node.FindInterface(key.Value) ?? AddInterface(node, key.Value, key.Where);
            if (value.IsNull)
            {
                continue;
            }

            IEnumerable<YNode> items = value.Kind == YNode.Kinds.Sequence ? value.Items : [value];
            foreach (YNode item in items)
            {
                if (Scalar(item, "address") is { } text && Address(text, item.Where, $"{node.Name}:{key.Value}") is { } prefix)
                {
                    iface.Addresses.Add(prefix);
                }
            }
        }
    }

    internal LabInterface AddInterface(LabNode node, string name, SourceSpot where)
    {
        var iface = new LabInterface(name, where);
        node.Interfaces.Add(iface);
        return iface;
    }

    internal bool CheckIfName(string name, SourceSpot where)
    {
        if (name.Length is 0 or > 15 || name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is ':' or '/'))
        {
            Error(where, $"bad interface name '{name}' (1 to 15 characters, no spaces, ':' or '/')");
            return false;
        }

        if (name == "lo0" || name == "lo")
        {
            Error(where, $"interface name '{name}' is the node's loopback, which every node already has");
            return false;
        }

        return true;
    }

    /// <summary>A.B.C.D/LEN: a usable host address and a prefix length 8..32 (the network and broadcast addresses are refused).</summary>
    internal LabPrefix? Address(string text, SourceSpot where, string owner)
    {
        int slash = text.IndexOf('/');
        if (!InAddr.TryParse(slash < 0 ? text : text[..slash], out InAddr address))
        {
            Error(where, $"bad address '{text}' for {owner} (expected A.B.C.D/LEN)");
            return null;
        }

        if (slash < 0)
        {
            Error(where, $"bad prefix: address '{text}' for {owner} needs a prefix length (/24, /30 ...)");
            return null;
        }

        if (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length is < 0 or > 32)
        {
            Error(where, $"bad prefix '/{text[(slash + 1)..]}' in '{text}' for {owner} (0 to 32)");
            return null;
        }

        if (address.IsAny || address.IsBroadcast || address.IsMulticast || address.IsLoopback || address.IsReservedSource)
        {
            Error(where, $"bad address '{text}' for {owner}: not usable on an interface");
            return null;
        }

        uint mask = InAddr.MaskOf(length);
        if (length < 31 && ((address.Value & ~mask) == 0 || (address.Value & ~mask) == ~mask))
        {
            Error(where, $"bad address '{text}' for {owner}: that is the network's {((address.Value & ~mask) == 0 ? "network" : "broadcast")} address");
            return null;
        }

        return new LabPrefix(address, length);
    }

    private void ReadRoutes(LabNode node, YNode routes)
    {
        if (!Expect(routes, YNode.Kinds.Sequence, $"routes of {node.Name}"))
        {
            return;
        }

        foreach (YNode item in routes.Items)
        {
            if (Scalar(item, "route") is not { } text)
            {
                continue;
            }

            string[] words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length is not (2 or 3) || (words.Length == 3 && words[1] != "via"))
            {
                Error(item.Where, $"bad route '{text}' (expected 'DEST via GATEWAY', DEST 'default' or A.B.C.D/LEN)");
                continue;
            }

            InAddr dst = InAddr.Any;
            int length = 0;
            if (words[0] != "default" && !InAddr.TryParsePrefix(words[0], out dst, out length, defaultPrefix: 32))
            {
                Error(item.Where, $"bad route destination '{words[0]}' in '{text}'");
                continue;
            }

            if (!InAddr.TryParse(words[^1], out InAddr gateway))
            {
                Error(item.Where, $"bad gateway '{words[^1]}' in route '{text}'");
                continue;
            }

            node.Routes.Add(new LabRoute(new InAddr(dst.Value & InAddr.MaskOf(length)), length, gateway));
            _routeSpots[(node, node.Routes.Count - 1)] = item.Where;
        }
    }

    private readonly Dictionary<(LabNode, int), SourceSpot> _routeSpots = [];

    // ---- links

    private void ReadLinks(YNode links)
    {
        if (!Expect(links, YNode.Kinds.Sequence, "links"))
        {
            return;
        }

        foreach (YNode item in links.Items)
        {
            if (!Expect(item, YNode.Kinds.Mapping, "a link"))
            {
                continue;
            }

            Dictionary<string, YNode> keys = Keys(item, "link", LinkKeys);
            if (!keys.TryGetValue("endpoints", out YNode? endpoints))
            {
                Error(item.Where, "link without 'endpoints' (two \"node:interface\" strings)");
                continue;
            }

            if (!Expect(endpoints, YNode.Kinds.Sequence, "endpoints"))
            {
                continue;
            }

            if (endpoints.Items.Count != 2)
            {
                Error(endpoints.Where, $"a link has exactly two endpoints, not {endpoints.Items.Count}");
                continue;
            }

            (LabNode Node, string If, SourceSpot Where)? a = Endpoint(endpoints.Items[0]);
            (LabNode Node, string If, SourceSpot Where)? b = Endpoint(endpoints.Items[1]);
            if (a is null || b is null)
            {
                continue;
            }

            LabLink? link = AddLink(a.Value.Node, a.Value.If, a.Value.Where, b.Value.Node, b.Value.If, b.Value.Where, item.Where);
            if (link is null)
            {
                continue;
            }

            if (keys.TryGetValue("mtu", out YNode? mtu))
            {
                link.Mtu = Mtu(mtu);
            }

            link.Impairment = Impairment(keys, $"link {a.Value.Node.Name}:{a.Value.If} - {b.Value.Node.Name}:{b.Value.If}");
        }
    }

    internal LabImpairment Impairment(Dictionary<string, YNode> keys, string what)
    {
        string? Get(string key) => keys.TryGetValue(key, out YNode? n) ? Scalar(n, key) : null;
        var impairment = new LabImpairment(Get("delay"), Get("jitter"), Get("loss"), Get("rate"));
        if (impairment.Any)
        {
            // the same parse the shorthand does at deploy, so a bad value is reported here with its line
            string[] p = impairment.Parameters();
            var args = new List<string>();
            for (int i = 0; i < p.Length; i += 2)
            {
                args.Add(p[i] switch { "loss" => "plr", "rate" => "bw", _ => p[i] });
                args.Add(p[i + 1]);
            }

            try
            {
                using (Curvnet.Set(Vnet.Vnet0))
                {
                    _ = DummynetParser.ParsePipe([.. args], 0, DnIo.SlotLimit, DnIo.ByteLimit, out _, out _);
                }
            }
            catch (IpfwException e)
            {
                SourceSpot where = keys.TryGetValue("delay", out YNode? d) ? d.Where
                    : keys.TryGetValue("jitter", out YNode? j) ? j.Where
                    : keys.TryGetValue("loss", out YNode? l) ? l.Where
                    : keys["rate"].Where;
                Error(where, $"{what}: bad impairment: {e.Message}");
            }
        }

        return impairment;
    }

    private (LabNode Node, string If, SourceSpot Where)? Endpoint(YNode n)
    {
        if (Scalar(n, "endpoint") is not { } text)
        {
            return null;
        }

        int colon = text.IndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            Error(n.Where, $"bad endpoint '{text}' (expected \"node:interface\")");
            return null;
        }

        string nodeName = text[..colon], ifName = text[(colon + 1)..];
        if (!_plan.ByName.TryGetValue(nodeName, out LabNode? node))
        {
            Error(n.Where, $"unknown node '{nodeName}' in endpoint '{text}'");
            return null;
        }

        return CheckIfName(ifName, n.Where) ? (node, ifName, n.Where) : null;
    }

    /// <summary>Joins two interfaces (made if the node does not declare them); null and errors when it cannot.</summary>
    internal LabLink? AddLink(LabNode a, string aIf, SourceSpot aWhere, LabNode b, string bIf, SourceSpot bWhere, SourceSpot where)
    {
        if (a == b)
        {
            Error(where, $"link joins node '{a.Name}' to itself ({aIf} and {bIf})");
            return null;
        }

        if (a.Base == NodeBase.Host && b.Base == NodeBase.Host)
        {
            Error(where, $"link {a.Name}:{aIf} - {b.Name}:{bIf} joins two host nodes: at least one end must be a vnet node");
            return null;
        }

        bool aFree = Free(a, aIf, aWhere), bFree = Free(b, bIf, bWhere);
        if (!aFree || !bFree)
        {
            return null;
        }

        LabInterface ai = a.FindInterface(aIf) ?? AddInterface(a, aIf, aWhere);
        LabInterface bi = b.FindInterface(bIf) ?? AddInterface(b, bIf, bWhere);
        var link = new LabLink(a, ai, b, bi, where);
        ai.Link = link;
        bi.Link = link;
        _plan.Links.Add(link);
        return link;
    }

    private bool Free(LabNode node, string name, SourceSpot where)
    {
        if (node.FindInterface(name)?.Link is { } other)
        {
            Error(where, $"interface {node.Name}:{name} used twice (already on the link at {other.Where.Line}:{other.Where.Column})");
            return false;
        }

        return true;
    }

    // ---- whole-lab checks

    private void CheckNodes()
    {
        foreach (LabNode node in _plan.Nodes)
        {
            foreach (LabInterface iface in node.Interfaces)
            {
                if (iface.Link is null)
                {
                    Error(iface.Where, $"interface {node.Name}:{iface.Name} is on no link (add it to links:)");
                }
            }

            for (int r = 0; r < node.Routes.Count; r++)
            {
                LabRoute route = node.Routes[r];
                bool onLink = node.Interfaces.Any(i => i.Addresses.Any(a => ((a.Address.Value ^ route.Gateway.Value) & InAddr.MaskOf(a.Length)) == 0));
                if (!onLink && _routeSpots.TryGetValue((node, r), out SourceSpot where))
                {
                    Error(where, $"node {node.Name}: gateway {route.Gateway} of route '{route}' is on none of its networks");
                }
            }
        }
    }

    // ---- scalar helpers

    internal List<KeyValuePair<string, string>> Sysctls(YNode map, NodeBase forBase)
    {
        var list = new List<KeyValuePair<string, string>>();
        if (!Expect(map, YNode.Kinds.Mapping, "sysctls"))
        {
            return list;
        }

        foreach ((YNode key, YNode value) in UniquePairs(map, "sysctl"))
        {
            if (Scalar(value, key.Value) is not { } v)
            {
                continue;
            }

            if (forBase == NodeBase.Vnet)
            {
                try
                {
                    _ = Sysctl.Find(key.Value);
                }
                catch (SysctlException)
                {
                    Error(key.Where, $"unknown sysctl '{key.Value}'");
                    continue;
                }
            }
            else if (!LinuxSysctlRegex().IsMatch(key.Value) || v.Any(char.IsControl))
            {
                Error(key.Where, $"bad Linux sysctl '{key.Value}'");
                continue;
            }

            list.Add(new(key.Value, v));
        }

        return list;
    }

    internal List<string> Lines(YNode n, string what)
    {
        var list = new List<string>();
        if (n.Kind == YNode.Kinds.Scalar && !n.IsNull)
        {
            list.Add(n.Value);
            return list;
        }

        if (!Expect(n, YNode.Kinds.Sequence, what))
        {
            return list;
        }

        foreach (YNode item in n.Items)
        {
            if (Scalar(item, what) is { } line)
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    Error(item.Where, $"empty {what} line");
                }
                else
                {
                    list.Add(line);
                }
            }
        }

        return list;
    }

    internal int? Mtu(YNode n) => Int(n, "mtu", 68, 9000);

    internal int? Int(YNode n, string what, int min, int max)
    {
        if (Scalar(n, what) is not { } text)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            Error(n.Where, $"bad {what} '{text}' (an integer from {min} to {max})");
            return null;
        }

        return value;
    }

    internal string? Scalar(YNode n, string what)
    {
        if (n.Kind != YNode.Kinds.Scalar || n.IsNull)
        {
            Error(n.Where, $"{what}: expected a value, found {(n.IsNull ? "nothing" : n.Describe())}");
            return null;
        }

        return n.Value;
    }

    internal bool Expect(YNode n, YNode.Kinds kind, string what)
    {
        if (n.Kind == kind)
        {
            return true;
        }

        Error(n.Where, $"{what}: expected {(kind == YNode.Kinds.Mapping ? "a mapping" : kind == YNode.Kinds.Sequence ? "a list" : "a value")}, found {(n.IsNull ? "nothing" : n.Describe())}");
        return false;
    }

    /// <summary>A mapping's pairs with duplicate keys reported (the first one wins).</summary>
    internal IEnumerable<(YNode Key, YNode Value)> UniquePairs(YNode map, string what)
    {
        var seen = new Dictionary<string, YNode>(StringComparer.Ordinal);
        foreach ((YNode key, YNode value) in map.Pairs)
        {
            if (key.Kind != YNode.Kinds.Scalar)
            {
                Error(key.Where, $"{what} names must be plain values, not {key.Describe()}");
                continue;
            }

            if (seen.TryGetValue(key.Value, out YNode? first))
            {
                Error(key.Where, $"duplicate {what} '{key.Value}' (first at {first.Where.Line}:{first.Where.Column})");
                continue;
            }

            seen.Add(key.Value, key);
            yield return (key, value);
        }
    }

    /// <summary>The known keys of a mapping; unknown and duplicate keys are reported.</summary>
    internal Dictionary<string, YNode> Keys(YNode map, string what, string[] allowed)
    {
        var result = new Dictionary<string, YNode>(StringComparer.Ordinal);
        foreach ((YNode key, YNode value) in UniquePairs(map, "key"))
        {
            if (Array.IndexOf(allowed, key.Value) < 0)
            {
                Error(key.Where, $"unknown key '{key.Value}' in {what} (expected one of: {string.Join(", ", allowed)})");
                continue;
            }

            result[key.Value] = value;
        }

        return result;
    }

    internal LabPlan Plan => _plan;

    internal void Report(SourceSpot where, string message) => Error(where, message);

    internal bool HasKind(string kind) => _kinds.ContainsKey(kind);

    internal string DefaultKind => _defaultKind;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex LabNameRegex();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]{0,62}$")]
    internal static partial Regex NodeNameRegex();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-/]{1,200}$")]
    private static partial Regex LinuxSysctlRegex();
}
