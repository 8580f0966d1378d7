using System.Globalization;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// ipfw table N {create|destroy|add|delete|flush|list} (sbin/ipfw/tables.c) for addr tables; "all" for list and
/// flush. Add and delete take several entries (add: key [value] pairs) and report each as tables.c does
/// ("added: 10.0.0.0/24 0"); a duplicate or missing record fails with EX_OSERR after the report.
/// </summary>
internal static class TableCommand
{
    private const int EX_OSERR = 71;

    public static int Run(CommandContext context, string[] av, bool quiet)
    {
        if (av.Length < 2)
        {
            throw new IpfwException(EX_USAGE, "table needs name");
        }

        string name = av[0];
        string cmd = av[1];
        string[] rest = av[2..];
        if (name == "all")
        {
            return cmd switch
            {
                "list" or "show" => List(context, IpFwTables.List()),
                "flush" => Flush(IpFwTables.List()),
                _ => throw new IpfwException(EX_USAGE, $"table: {cmd}: only list and flush apply to all tables"),
            };
        }

        if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n >= IpFwTables.Max)
        {
            throw new IpfwException(EX_USAGE, $"table name {name} is not supported in Vimage (numbers 0..{IpFwTables.Max - 1})");
        }

        switch (cmd)
        {
            case "create":
                if (rest.Length > 0 && !(rest is ["type", "addr"]))
                {
                    throw new IpfwException(EX_USAGE, $"table type {string.Join(' ', rest)} is not supported in Vimage (addr only)");
                }

                IpFw.Load();
                return IpFwTables.Create(n) ? 0 : throw new IpfwException(EX_OSERR, "Table creation failed: File exists");
            case "destroy":
                return IpFwTables.Destroy(n) ? 0 : throw new IpfwException(EX_OSERR, "failed to destroy table " + name);
            case "add" or "delete" or "del":
                return Modify(context, n, rest, add: cmd == "add", quiet);
            case "flush":
                (IpFwTables.Find(n) ?? throw NotFound(name)).Flush();
                return 0;
            case "list" or "show":
                return List(context, [IpFwTables.Find(n) ?? throw NotFound(name)]);
            default:
                throw new IpfwException(EX_USAGE, $"Unknown table command: {cmd}");
        }
    }

    private static IpfwException NotFound(string name) => new(EX_OSERR, $"Table {name} not found");

    private static int Flush(IReadOnlyList<IpFwTable> tables)
    {
        foreach (IpFwTable t in tables)
        {
            t.Flush();
        }

        return 0;
    }

    private static int List(CommandContext context, IReadOnlyList<IpFwTable> tables)
    {
        foreach (IpFwTable t in tables)
        {
            context.Out.WriteLine($"--- table({t.Number}), set(0) ---");
            foreach ((uint address, int length, uint value) in t.Entries())
            {
                context.Out.WriteLine($"{new InAddr(address)}/{length} {value}");
            }
        }

        return 0;
    }

    /// <summary>table_modify_record: every key (and value) parsed first, then applied and reported one by one.</summary>
    private static int Modify(CommandContext context, int n, string[] av, bool add, bool quiet)
    {
        if (av.Length == 0)
        {
            throw new IpfwException(EX_USAGE, "address required");
        }

        var entries = new List<(uint Address, int Length, uint Value)>();
        for (int i = 0; i < av.Length; i++)
        {
            (uint address, int length) = Key(av[i]);
            uint value = 0;
            if (add && i + 1 < av.Length)
            {
                string v = av[++i];
                if (!uint.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out value))
                {
                    throw new IpfwException(EX_USAGE, $"Unknown value: {v}");
                }
            }

            entries.Add((address & IpFwTable.MaskOf(length), length, value));
        }

        IpFwTable? table = IpFwTables.Find(n);
        if (table is null)
        {
            if (!add)
            {
                throw NotFound(n.ToString(CultureInfo.InvariantCulture));
            }

            if (!quiet)
            {
                context.Err.WriteLine($"ipfw: DEPRECATED: inserting data into non-existent table {n}. (auto-created)");
            }

            IpFw.Load();
            table = IpFwTables.GetOrCreate(n);
        }

        string? failure = null;
        foreach ((uint address, int length, uint value) in entries)
        {
            bool done = add ? table.Add(address, length, value, IpFwTables.MaxEntries) : table.Delete(address, length);
            string result = done ? (add ? "added" : "deleted") : add ? (table.Count >= IpFwTables.MaxEntries ? "limit" : "exists") : "notfound";
            if (!done)
            {
                failure ??= add ? (result == "limit" ? "limit hit" : "record already exists") : "record not found";
            }

            if (!quiet || (!done && result == "limit"))
            {
                context.Out.WriteLine($"{result}: {new InAddr(address)}/{length} {value}");
            }
        }

        if (failure is null || (quiet && failure != "limit hit"))
        {
            return 0; // tables.c: with -q, duplicate keys and failed deletions are not errors
        }

        throw new IpfwException(EX_OSERR, $"{(add ? "Adding" : "Deleting")} record failed: {failure}");
    }

    private static (uint Address, int Length) Key(string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string host = slash < 0 ? text : text[..slash];
        if (!InAddr.TryParse(host, out InAddr a) || host.Count(c => c == '.') != 3)
        {
            throw new IpfwException(EX_DATAERR, $"Unknown address: {text}");
        }

        int len = 32;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out len) || len > 32))
        {
            throw new IpfwException(EX_DATAERR, "bad IPv4 mask width");
        }

        return (a.Value, len);
    }
}
