using Vimage.Net.Inet;

namespace Vimage.Cli.Lab;

/// <summary>The two kinds of node a lab can hold.</summary>
public enum NodeBase
{
    /// <summary>A vnet jail in the host process (FreeBSD's stack, rebuilt).</summary>
    Vnet,

    /// <summary>A Linux network namespace joined to the lab by a TAP device; runs real Linux programs.</summary>
    Host,
}

/// <summary>An address with its prefix length (in_aliasreq's address and mask).</summary>
public readonly record struct LabPrefix(InAddr Address, int Length)
{
    public override string ToString() => $"{Address}/{Length}";
}

/// <summary>A static route: destination prefix through a gateway on a connected network.</summary>
public readonly record struct LabRoute(InAddr Destination, int Length, InAddr Gateway)
{
    public override string ToString() => Length == 0 && Destination.IsAny ? $"default via {Gateway}" : $"{Destination}/{Length} via {Gateway}";
}

/// <summary>One interface of a node: its name inside the node, its addresses, the link it sits on.</summary>
public sealed class LabInterface(string name, SourceSpot where)
{
    public string Name { get; } = name;

    public SourceSpot Where { get; set; } = where;

    public List<LabPrefix> Addresses { get; } = [];

    public LabLink? Link { get; set; }
}

/// <summary>A node after defaults, its kind's settings and its own settings are merged.</summary>
public sealed class LabNode(string name, SourceSpot where)
{
    public string Name { get; } = name;

    public SourceSpot Where { get; } = where;

    /// <summary>The kind as written (vnet, host, or a name from <c>kinds:</c>).</summary>
    public string Kind { get; set; } = "vnet";

    public NodeBase Base { get; set; } = NodeBase.Vnet;

    public int? Mtu { get; set; }

    /// <summary>Interfaces in the order they were declared or linked.</summary>
    public List<LabInterface> Interfaces { get; } = [];

    public List<LabRoute> Routes { get; } = [];

    /// <summary>name=value, applied in order (defaults, then the kind's, then the node's).</summary>
    public List<KeyValuePair<string, string>> Sysctls { get; } = [];

    /// <summary>ipfw(8) argument lines ("add 100 allow ip from any to any").</summary>
    public List<string> Ipfw { get; } = [];

    /// <summary>Command lines run at start, in the node, through the CLI's dispatcher (vnet) or with ip netns exec (host).</summary>
    public List<string> Exec { get; } = [];

    public LabInterface? FindInterface(string name)
    {
        foreach (LabInterface i in Interfaces)
        {
            if (i.Name == name)
            {
                return i;
            }
        }

        return null;
    }
}

/// <summary>A link's impairments, as the <c>ifconfig IF delay/jitter/loss/rate</c> shorthand takes them (dummynet).</summary>
public sealed record LabImpairment(string? Delay, string? Jitter, string? Loss, string? Rate)
{
    public bool Any => Delay is not null || Jitter is not null || Loss is not null || Rate is not null;

    /// <summary>The shorthand's parameters: delay D jitter J loss L rate R.</summary>
    public string[] Parameters()
    {
        var p = new List<string>();
        Add("delay", Delay);
        Add("jitter", Jitter);
        Add("loss", Loss);
        Add("rate", Rate);
        return [.. p];

        void Add(string key, string? value)
        {
            if (value is not null)
            {
                p.Add(key);
                p.Add(value);
            }
        }
    }
}

/// <summary>A point-to-point link: two node interfaces, an MTU, impairments.</summary>
public sealed class LabLink(LabNode a, LabInterface aIf, LabNode b, LabInterface bIf, SourceSpot where)
{
    public LabNode A { get; } = a;

    public LabInterface AIf { get; } = aIf;

    public LabNode B { get; } = b;

    public LabInterface BIf { get; } = bIf;

    public SourceSpot Where { get; } = where;

    public int? Mtu { get; set; }

    public LabImpairment Impairment { get; set; } = new(null, null, null, null);
}

/// <summary>A whole lab, expanded: generators have become ordinary nodes and links.</summary>
public sealed class LabPlan(string name, string file)
{
    public string Name { get; } = name;

    public string File { get; } = file;

    public List<LabNode> Nodes { get; } = [];

    public Dictionary<string, LabNode> ByName { get; } = new(StringComparer.Ordinal);

    public List<LabLink> Links { get; } = [];
}
