using System.Diagnostics;
using System.Globalization;
using Vimage.Cli.Commands;
using Vimage.Cli.Commands.Ipfw;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Epair;
using Vimage.Net.Iflib;
using Vimage.Net.Inet;
using Vimage.Net.Tap;

namespace Vimage.Cli.Lab;

/// <summary>
/// Makes a lab from its plan, all or nothing: jails for vnet nodes, namespaces for host nodes, then links (an
/// epair made in the first end's vnet with its other end moved to the second's; a TAP for a host end), MTUs,
/// addresses, routes, sysctls, impairments, ipfw rules and start-up commands. If any step fails, everything made
/// so far is torn down (jails removed, which destroys the epairs and TAPs homed in them; namespaces deleted)
/// before the error is reported.
/// </summary>
public sealed class LabDeployer
{
    private static readonly Lazy<CommandDispatcher> s_dispatcher = new(CommandDispatcher.CreateDefault);

    /// <summary>
    /// A lab link's epair: one queue each way with 256 descriptors and a 128-entry TX mp_ring (ifconfig's epairs
    /// have 1024 and iflib's 2048): rings are most of an epair's memory, and hundreds of frames in flight per link
    /// are plenty for an emulated network. An epair's mp_ring holds frames only while the peer's RX ring is full,
    /// and RX slots are made as they fill (RxRing), so an idle or lightly used link costs about 1 KiB of ring per
    /// end. dev.epair.N.iflib.override_ntxds/nrxds still resize a link at run time.
    /// </summary>
    public static IflibQueueConfig LinkQueues { get; set; } = new(1, 1, 256, 256, TxRingSize: 128);

    private readonly CommandContext _context;
    private readonly LabRegistry _labs;
    private readonly LabPlan _plan;
    private readonly List<LabNodeRuntime> _made = [];
    private readonly Dictionary<LabNode, LabNodeRuntime> _runtime = [];

    private LabDeployer(CommandContext context, LabPlan plan)
    {
        _context = context;
        _plan = plan;
        _labs = LabRegistry.For(context.Jails);
    }

    /// <summary>Test hook: called with each step's name ("jails", "links", ... "exec"); throwing from it fails the deploy there.</summary>
    internal static Action<string>? StepHook { get; set; }

    public static LabRuntime Deploy(CommandContext context, LabPlan plan)
    {
        var deployer = new LabDeployer(context, plan);
        LabRegistry labs = deployer._labs;
        if (!labs.TryReserve(plan.Name))
        {
            throw new CommandException($"lab: {plan.Name}: a lab of that name already exists");
        }

        var clock = Stopwatch.StartNew();
        try
        {
            deployer.Preflight();
            deployer.Build();
        }
        catch
        {
            Teardown(context.Jails, deployer._made, context.Err);
            labs.Unreserve(plan.Name);
            throw;
        }

        var lab = new LabRuntime(plan) { DeployedAt = DateTime.UtcNow, DeployTime = clock.Elapsed };
        lab.StepTimes.AddRange(deployer._steps);
        foreach (LabNodeRuntime node in deployer._made)
        {
            lab.Nodes.Add(node);
            lab.ByName.Add(node.Name, node);
        }

        labs.Publish(lab);
        return lab;
    }

    /// <summary>Everything that can be checked before anything is made.</summary>
    private void Preflight()
    {
        if (_context.InJail)
        {
            throw new CommandException("lab: labs are deployed from the host, not from inside a jail");
        }

        var problems = new List<string>();
        if (!Vnet.IsVimage)
        {
            problems.Add("labs need vnet jails, and this build has -p:Vimage=false (VIMAGE off)");
        }

        string? hostReason = null;
        bool hostChecked = false;
        foreach (LabNode node in _plan.Nodes)
        {
            if (node.Base == NodeBase.Host)
            {
                if (!hostChecked)
                {
                    hostReason = HostNode.UnsupportedReason();
                    hostChecked = true;
                }

                if (hostReason is not null)
                {
                    problems.Add($"{node.Where}: node {node.Name} is a host node, which cannot be made here: {hostReason}");
                }
                else if (File.Exists(NetNamespace.PathOf(HostNode.NamespaceFor(_plan.Name, node.Name))))
                {
                    problems.Add($"{node.Where}: node {node.Name}: network namespace {HostNode.NamespaceFor(_plan.Name, node.Name)} already exists");
                }
            }

            if (_labs.IsHostNodeName(node.Name) || Exists(node.Name))
            {
                problems.Add($"{node.Where}: node {node.Name}: a jail or node of that name already exists");
            }
        }

        if (problems.Count > 0)
        {
            throw new CommandException(string.Join("\n", problems.Take(50).Select(p => "lab: " + p))
                                       + (problems.Count > 50 ? $"\nlab: ... and {problems.Count - 50} more" : ""));
        }
    }

    private bool Exists(string name)
    {
        try
        {
            _ = _context.Jails.Find(name);
            return true;
        }
        catch (CommandException)
        {
            return false;
        }
    }

    private readonly List<KeyValuePair<string, TimeSpan>> _steps = [];
    private readonly Stopwatch _stepClock = new();
    private string? _step;

    /// <summary>Marks the start of a step: times the previous one, calls the test hook.</summary>
    private void Step(string name)
    {
        if (_step is not null)
        {
            _steps.Add(new(_step, _stepClock.Elapsed));
        }

        _step = name;
        _stepClock.Restart();
        StepHook?.Invoke(name);
    }

    private void Build()
    {
        Step("nodes");
        foreach (LabNode node in _plan.Nodes)
        {
            var runtime = new LabNodeRuntime(node);
            if (node.Base == NodeBase.Vnet)
            {
                runtime.Jail = _context.Jails.Create(node.Name);
            }
            else
            {
                runtime.Host = HostNode.Create(_plan.Name, node.Name);
            }

            _made.Add(runtime);
            _runtime.Add(node, runtime);
        }

        Step("links");
        foreach (LabLink link in _plan.Links)
        {
            MakeLink(link);
        }

        Step("addresses");
        foreach (LabNodeRuntime node in _made)
        {
            Configure(node);
        }

        Step("routes");
        foreach (LabNodeRuntime node in _made)
        {
            AddRoutes(node);
        }

        Step("sysctls");
        foreach (LabNodeRuntime node in _made)
        {
            foreach ((string name, string value) in node.Spec.Sysctls)
            {
                if (node.Jail is { } jail)
                {
                    try
                    {
                        Sysctl.Set(name, value, jail.Vnet);
                    }
                    catch (SysctlException e)
                    {
                        throw new CommandException($"lab: {node.Spec.Where}: node {node.Name}: {e.Message}");
                    }
                }
                else
                {
                    node.Host!.RunStartup($"sysctl -qw {name}={value}", _context.Out);
                }
            }
        }

        Step("impairments");
        foreach (LabLink link in _plan.Links)
        {
            if (link.Impairment.Any)
            {
                Impair(link, link.A, link.AIf);
                Impair(link, link.B, link.BIf);
            }
        }

        Step("ipfw");
        foreach (LabNodeRuntime node in _made)
        {
            foreach (string rule in node.Spec.Ipfw)
            {
                Dispatch(node, $"ipfw {rule}", ["ipfw", .. Words.Split(rule)]);
            }
        }

        Step("exec");
        foreach (LabNodeRuntime node in _made)
        {
            foreach (string line in node.Spec.Exec)
            {
                if (node.Host is { } host)
                {
                    host.RunStartup(line, _context.Out);
                }
                else
                {
                    Dispatch(node, line, Words.Split(line));
                }
            }
        }

        Step("done");
    }

    private void Dispatch(LabNodeRuntime node, string line, string[] argv)
    {
        var err = new StringWriter();
        using CommandContext jailed = new CommandContext(node.Jail!.Vnet, _context.Out, err, _context.Jails, _context.Cancel, _context.WorkingDirectory).In(node.Jail);
        int exit = argv.Length == 0 ? 64 : s_dispatcher.Value.Run(jailed, argv);
        if (exit != 0)
        {
            throw new CommandException($"lab: {node.Spec.Where}: node {node.Name}: '{line}' failed (exit {exit}): {err.ToString().Trim()}");
        }
    }

    private Vnet VnetOf(LabNode node) => _runtime[node].Jail!.Vnet;

    private void MakeLink(LabLink link)
    {
        if (link.A.Base == NodeBase.Host || link.B.Base == NodeBase.Host)
        {
            bool hostIsA = link.A.Base == NodeBase.Host;
            LabNode hostNode = hostIsA ? link.A : link.B, vnetNode = hostIsA ? link.B : link.A;
            LabInterface hostIf = hostIsA ? link.AIf : link.BIf, vnetIf = hostIsA ? link.BIf : link.AIf;
            HostNode host = _runtime[hostNode].Host!;
            TapDevice device = TapDevice.Create(hostIf.Name, 1, host.Netns);
            try
            {
                using (Curvnet.Set(VnetOf(vnetNode)))
                {
                    Ifnet ifp = TapCloner.CreateFor(device);
                    Ifnets.Rename(ifp, vnetIf.Name);
                }
            }
            catch
            {
                device.Dispose();
                throw;
            }

            return;
        }

        Vnet a = VnetOf(link.A), b = VnetOf(link.B);
        using (Curvnet.Set(a))
        {
            IReadOnlyList<Ifnet> pair = EpairCloner.CreateWith(LinkQueues);
            Ifnets.Rename(pair[0], link.AIf.Name);
            Ifnets.Move(pair[1], b);
            Ifnets.Rename(pair[1], link.BIf.Name);
        }
    }

    private void Configure(LabNodeRuntime node)
    {
        if (node.Host is { } host)
        {
            foreach (LabInterface iface in node.Spec.Interfaces)
            {
                if ((iface.Link?.Mtu ?? node.Spec.Mtu) is { } mtu)
                {
                    host.Ip("-n", host.Netns, "link", "set", "dev", iface.Name, "mtu", mtu.ToString(CultureInfo.InvariantCulture));
                }

                foreach (LabPrefix address in iface.Addresses)
                {
                    host.Ip("-n", host.Netns, "addr", "add", address.ToString(), "dev", iface.Name);
                }

                host.Ip("-n", host.Netns, "link", "set", "dev", iface.Name, "up");
            }

            return;
        }

        using (Curvnet.Set(node.Jail!.Vnet))
        {
            foreach (LabInterface iface in node.Spec.Interfaces)
            {
                Ifnet ifp = Ifnets.Find(iface.Name);
                if ((iface.Link?.Mtu ?? node.Spec.Mtu) is { } mtu)
                {
                    ifp.SetMtu(mtu);
                }

                foreach (LabPrefix address in iface.Addresses)
                {
                    try
                    {
                        InAddrs.Add(ifp, address.Address, address.Length);
                    }
                    catch (IfException e)
                    {
                        throw new CommandException($"lab: {iface.Where}: node {node.Name}: {iface.Name} {address}: {e.Message}");
                    }
                }

                ifp.SetUp(true);
            }
        }
    }

    private void AddRoutes(LabNodeRuntime node)
    {
        if (node.Spec.Routes.Count == 0)
        {
            return;
        }

        if (node.Host is { } host)
        {
            foreach (LabRoute route in node.Spec.Routes)
            {
                host.Ip("-n", host.Netns, "route", "add", route.Length == 0 ? "default" : $"{route.Destination}/{route.Length}", "via", route.Gateway.ToString());
            }

            return;
        }

        using (Curvnet.Set(node.Jail!.Vnet))
        {
            foreach (LabRoute route in node.Spec.Routes)
            {
                try
                {
                    Routes.AddGateway(route.Destination, route.Length, route.Gateway);
                }
                catch (Exception e) when (e is Vimage.Net.Route.RouteException or IfException)
                {
                    throw new CommandException($"lab: node {node.Name}: route '{route}': {e.Message}");
                }
            }
        }
    }

    /// <summary>Both ends of an impaired link get the shorthand's pipe on output, so each direction is impaired once.</summary>
    private void Impair(LabLink link, LabNode node, LabInterface iface)
    {
        if (node.Base == NodeBase.Host)
        {
            return; // the vnet end's pipe covers the direction into the host; Linux has its own (tc netem) for the other
        }

        var err = new StringWriter();
        using (Curvnet.Set(VnetOf(node)))
        {
            var context = new CommandContext(VnetOf(node), _context.Out, err, _context.Jails);
            if (LinkShorthand.Run(context, iface.Name, link.Impairment.Parameters()) != 0)
            {
                throw new CommandException($"lab: {link.Where}: {node.Name}:{iface.Name}: {err.ToString().Trim()}");
            }
        }
    }

    /// <summary>Removes what was made for these nodes, last first: jails (their epairs and TAPs go with them), namespaces.</summary>
    internal static void Teardown(JailRegistry jails, IReadOnlyList<LabNodeRuntime> nodes, TextWriter log)
    {
        // Links first, each destroyed in its home (the vnet that created it): a jail removed while holding the
        // far end of a link would send that end home, where a same-named interface (eth0 ...) already exists.
        foreach (LabNodeRuntime node in nodes)
        {
            if (node.Jail is not { IsRemoved: false } home)
            {
                continue;
            }

            try
            {
                using (Curvnet.Set(home.Vnet))
                {
                    foreach (LabInterface iface in node.Spec.Interfaces)
                    {
                        if (Ifnets.TryFind(iface.Name) is { Cloner: not null, IsDetached: false } ifp && ifp.HomeVnet == home.Vnet)
                        {
                            Ifnets.Destroy(ifp.Name);
                        }
                    }
                }
            }
            catch (Exception e) when (e is IfException or InvalidOperationException or ObjectDisposedException)
            {
                log.WriteLine($"lab: destroying the links of node {node.Name}: {e.Message}");
            }
        }

        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            LabNodeRuntime node = nodes[i];
            try
            {
                if (node.Jail is { IsRemoved: false } jail)
                {
                    jails.Remove(jail);
                }
            }
            catch (CommandException)
            {
                // removed behind the lab's back (jail -r): nothing left to do
            }
            catch (Exception e)
            {
                log.WriteLine($"lab: removing node {node.Name}: {e.Message}");
            }
        }

        foreach (LabNodeRuntime node in nodes)
        {
            node.Host?.Destroy();
        }
    }
}

/// <summary>Splits a command line into words: blanks separate, '...' and "..." group, \ escapes the next character.</summary>
public static class Words
{
    public static string[] Split(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool any = false;
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                any = true;
            }
            else if (c == '\\' && i + 1 < line.Length)
            {
                word.Append(line[++i]);
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any || word.Length > 0)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    any = false;
                }
            }
            else
            {
                word.Append(c);
            }
        }

        if (any || word.Length > 0)
        {
            words.Add(word.ToString());
        }

        return [.. words];
    }
}
