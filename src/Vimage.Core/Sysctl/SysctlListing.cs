namespace Vimage.Core;

/// <summary>What sysctl(8) prints for each OID: -n, -d, -N and -o.</summary>
[Flags]
public enum SysctlListOptions
{
    None = 0,

    /// <summary>-n: values only.</summary>
    ValuesOnly = 1,

    /// <summary>-d: descriptions instead of values.</summary>
    Descriptions = 2,

    /// <summary>-N: names only.</summary>
    NamesOnly = 4,

    /// <summary>-o: include opaque OIDs (statistics structs) in walks.</summary>
    Opaque = 8,
}

public static partial class Sysctl
{
    /// <summary>
    /// sysctl(8) output for <paramref name="name"/> and, when it is a node, everything below it
    /// (<c>sysctl -a net.inet</c>; "" lists the whole tree), as seen from <paramref name="vnet"/>.
    /// </summary>
    public static IReadOnlyList<string> List(string name = "", SysctlListOptions options = SysctlListOptions.None, Vnet? vnet = null)
    {
        var lines = new List<string>();
        foreach (SysctlOid oid in Walk(name, includeOpaque: (options & SysctlListOptions.Opaque) != 0))
        {
            if (!oid.IsReadable)
            {
                continue;
            }

            lines.Add(FormatLine(oid, options, vnet));
        }

        return lines;
    }

    /// <summary>One line of sysctl(8) output.</summary>
    public static string FormatLine(SysctlOid oid, SysctlListOptions options = SysctlListOptions.None, Vnet? vnet = null)
    {
        ArgumentNullException.ThrowIfNull(oid);
        if ((options & SysctlListOptions.NamesOnly) != 0)
        {
            return oid.Name;
        }

        string body = (options & SysctlListOptions.Descriptions) != 0
            ? oid.Description
            : SysctlValues.Format(oid, Get(oid, vnet));
        return (options & SysctlListOptions.ValuesOnly) != 0 ? body : $"{oid.Name}: {body}";
    }

    /// <summary>sysctl name=value: validates and writes, returning sysctl(8)'s "name: old -> new" line.</summary>
    public static string SetAndReport(string name, string value, Vnet? vnet = null, bool privileged = true)
    {
        SysctlOid oid = Find(name);
        string before = SysctlValues.Format(oid, Get(oid, vnet));
        Set(name, value, vnet, privileged);
        return $"{oid.Name}: {before} -> {SysctlValues.Format(oid, Get(oid, vnet))}";
    }
}
