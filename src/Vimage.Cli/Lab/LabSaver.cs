using Vimage.Core;

namespace Vimage.Cli.Lab;

/// <summary>
/// <c>lab save</c>: the running lab as a topology file that deploys to the same lab. Addresses, MTUs and static
/// routes are read from the running nodes (so changes made since the deploy are kept), sysctls are the file's names
/// with their current values, links and their impairments and ipfw rules are the file's; generators come back as
/// the nodes and links they made. Start-up commands of vnet nodes are not saved (their effects on addresses and
/// routes are); those of host nodes are, since they start Linux programs.
/// </summary>
public static class LabSaver
{
    public static void Write(LabRuntime lab, TextWriter o)
    {
        o.WriteLine($"# saved from the running lab {lab.Name} (deployed from {lab.Plan.File})");
        o.WriteLine($"name: {Q(lab.Name)}");
        var kinds = lab.Plan.Nodes.Where(n => n.Kind is not ("vnet" or "host")).Select(n => (n.Kind, n.Base)).Distinct().ToList();
        if (kinds.Count > 0)
        {
            o.WriteLine("kinds:");
            foreach ((string kind, NodeBase b) in kinds.OrderBy(k => k.Kind, StringComparer.Ordinal))
            {
                o.WriteLine($"  {Q(kind)}: {{base: {(b == NodeBase.Vnet ? "vnet" : "host")}}}");
            }
        }

        o.WriteLine("nodes:");
        foreach (LabNodeRuntime node in lab.Nodes)
        {
            NodeView view = LabInspect.View(node);
            o.WriteLine($"  {Q(node.Name)}:");
            o.WriteLine($"    kind: {Q(node.Spec.Kind)}");
            if (view.Interfaces.Any(i => i.Addresses.Count > 0))
            {
                o.WriteLine("    interfaces:");
                foreach (InterfaceView i in view.Interfaces.Where(i => i.Addresses.Count > 0))
                {
                    o.WriteLine($"      {Q(i.Name)}: [{string.Join(", ", i.Addresses.Select(a => Q(a.ToString())))}]");
                }
            }

            if (view.Routes.Count > 0)
            {
                o.WriteLine("    routes:");
                foreach (LabRoute r in view.Routes)
                {
                    o.WriteLine($"      - {Q(r.ToString())}");
                }
            }

            var sysctls = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach ((string name, string value) in node.Spec.Sysctls)
            {
                sysctls[name] = node.Jail is { IsRemoved: false } jail ? Current(name, jail.Vnet) ?? value : value;
            }

            if (sysctls.Count > 0)
            {
                o.WriteLine("    sysctls:");
                foreach ((string name, string value) in sysctls)
                {
                    o.WriteLine($"      {Q(name)}: {Q(value)}");
                }
            }

            List(o, "ipfw", node.Spec.Ipfw);
            if (node.Spec.Base == NodeBase.Host)
            {
                List(o, "exec", node.Spec.Exec);
            }
        }

        if (lab.Plan.Links.Count > 0)
        {
            o.WriteLine("links:");
            var mtus = new Dictionary<(string, string), int>();
            foreach (LabNodeRuntime node in lab.Nodes)
            {
                foreach (InterfaceView i in LabInspect.View(node).Interfaces)
                {
                    mtus[(node.Name, i.Name)] = i.Mtu;
                }
            }

            foreach (LabLink link in lab.Plan.Links)
            {
                var parts = new List<string> { $"endpoints: [{Q($"{link.A.Name}:{link.AIf.Name}")}, {Q($"{link.B.Name}:{link.BIf.Name}")}]" };
                int mtu = mtus.GetValueOrDefault((link.A.Base == NodeBase.Vnet ? link.A.Name : link.B.Name,
                    link.A.Base == NodeBase.Vnet ? link.AIf.Name : link.BIf.Name));
                if (mtu != 0 && mtu != 1500)
                {
                    parts.Add($"mtu: {mtu}");
                }

                LabImpairment imp = link.Impairment;
                string[] p = imp.Parameters();
                for (int i = 0; i < p.Length; i += 2)
                {
                    parts.Add($"{p[i]}: {Q(p[i + 1])}");
                }

                o.WriteLine($"  - {{{string.Join(", ", parts)}}}");
            }
        }
    }

    private static string? Current(string name, Vnet vnet)
    {
        try
        {
            return Sysctl.GetText(name, vnet);
        }
        catch (SysctlException)
        {
            return null;
        }
    }

    private static void List(TextWriter o, string key, List<string> lines)
    {
        if (lines.Count == 0)
        {
            return;
        }

        o.WriteLine($"    {key}:");
        foreach (string line in lines)
        {
            o.WriteLine($"      - {Q(line)}");
        }
    }

    /// <summary>A YAML double-quoted scalar.</summary>
    internal static string Q(string s)
    {
        var b = new System.Text.StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"':
                    b.Append("\\\"");
                    break;
                case '\\':
                    b.Append("\\\\");
                    break;
                case '\n':
                    b.Append("\\n");
                    break;
                case '\t':
                    b.Append("\\t");
                    break;
                default:
                    if (char.IsControl(c))
                    {
                        b.Append($"\\x{(int)c:x2}");
                    }
                    else
                    {
                        b.Append(c);
                    }

                    break;
            }
        }

        return b.Append('"').ToString();
    }
}
