using System.Runtime.CompilerServices;
using Vimage.Cli.Commands;

namespace Vimage.Cli.Lab;

/// <summary>A node of a running lab: its plan and what was made for it (a jail, or a Linux namespace).</summary>
public sealed class LabNodeRuntime(LabNode spec)
{
    public LabNode Spec { get; } = spec;

    public string Name => Spec.Name;

    /// <summary>The node's jail (vnet nodes).</summary>
    public Jail? Jail { get; set; }

    /// <summary>The node's Linux namespace (host nodes).</summary>
    public HostNode? Host { get; set; }

    /// <summary>running, or removed when its jail was removed behind the lab's back (jail -r).</summary>
    public string State => Jail is { IsRemoved: true } ? "removed" : Host is { IsGone: true } ? "gone" : "running";
}

/// <summary>A deployed lab.</summary>
public sealed class LabRuntime(LabPlan plan)
{
    public LabPlan Plan { get; } = plan;

    public string Name => Plan.Name;

    public List<LabNodeRuntime> Nodes { get; } = [];

    public Dictionary<string, LabNodeRuntime> ByName { get; } = new(StringComparer.Ordinal);

    public DateTime DeployedAt { get; set; }

    public TimeSpan DeployTime { get; set; }

    /// <summary>How long each deploy step took (nodes, links, addresses, routes, sysctls, impairments, ipfw, exec).</summary>
    public List<KeyValuePair<string, TimeSpan>> StepTimes { get; } = [];
}

/// <summary>
/// The labs of one host (one <see cref="JailRegistry"/>): deployed by name, their host nodes answering
/// <c>jexec</c>. When the registry removes all its jails (host shutdown, end of a script) the labs' Linux namespaces
/// go too, so nothing is left on the machine.
/// </summary>
public sealed class LabRegistry
{
    private static readonly ConditionalWeakTable<JailRegistry, LabRegistry> s_registries = [];

    private readonly object _lock = new();
    private readonly Dictionary<string, LabRuntime> _labs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _busy = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostNode> _hostNodes = new(StringComparer.Ordinal);

    private LabRegistry(JailRegistry jails)
    {
        Jails = jails;
        jails.Closing += DestroyAll;
        jails.ForeignJexec = TryHostExec;
    }

    public JailRegistry Jails { get; }

    /// <summary>The labs of <paramref name="jails"/>' host.</summary>
    public static LabRegistry For(JailRegistry jails) => s_registries.GetValue(jails, j => new LabRegistry(j));

    public IReadOnlyList<LabRuntime> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _labs.Values.OrderBy(l => l.Name, StringComparer.Ordinal)];
            }
        }
    }

    public LabRuntime Find(string name)
    {
        lock (_lock)
        {
            return _labs.TryGetValue(name, out LabRuntime? lab) ? lab : throw new CommandException($"lab: {name}: no such lab");
        }
    }

    /// <summary>Reserves a name for a deploy; false if a lab of that name exists or is being deployed or destroyed.</summary>
    internal bool TryReserve(string name)
    {
        lock (_lock)
        {
            return !_labs.ContainsKey(name) && _busy.Add(name);
        }
    }

    internal void Unreserve(string name)
    {
        lock (_lock)
        {
            _busy.Remove(name);
        }
    }

    internal void Publish(LabRuntime lab)
    {
        lock (_lock)
        {
            _busy.Remove(lab.Name);
            _labs.Add(lab.Name, lab);
            foreach (LabNodeRuntime node in lab.Nodes)
            {
                if (node.Host is { } host)
                {
                    _hostNodes[node.Name] = host;
                }
            }
        }
    }

    /// <summary>Takes a lab out of the list for destruction (null if there is none or it is busy).</summary>
    internal LabRuntime? Withdraw(string name)
    {
        lock (_lock)
        {
            if (!_labs.Remove(name, out LabRuntime? lab))
            {
                return null;
            }

            _busy.Add(name);
            foreach (LabNodeRuntime node in lab.Nodes)
            {
                if (node.Host is not null)
                {
                    _hostNodes.Remove(node.Name);
                }
            }

            return lab;
        }
    }

    /// <summary>True when a host node of a running lab has this name.</summary>
    internal bool IsHostNodeName(string name)
    {
        lock (_lock)
        {
            return _hostNodes.ContainsKey(name);
        }
    }

    /// <summary>jexec NODE cmd on a host node: the real Linux program in the node's namespace.</summary>
    private Func<CommandContext, string[], int>? TryHostExec(string name)
    {
        HostNode? host;
        lock (_lock)
        {
            _hostNodes.TryGetValue(name, out host);
        }

        return host is null ? null : (context, argv) => host.Exec(context, argv);
    }

    /// <summary>Destroys every lab (the host is going away).</summary>
    public void DestroyAll()
    {
        foreach (LabRuntime lab in All)
        {
            if (Withdraw(lab.Name) is { } withdrawn)
            {
                LabDeployer.Teardown(Jails, withdrawn.Nodes, TextWriter.Null);
                Unreserve(lab.Name);
            }
        }
    }
}
