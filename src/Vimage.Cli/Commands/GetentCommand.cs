using Vimage.Net.Inet;
using Vimage.Net.Netdb;

namespace Vimage.Cli.Commands;

/// <summary>
/// getent(1) for the one database Vimage has: <c>getent hosts [key ...]</c> over the vnet's hosts table (a jail's
/// own with jexec). No key: every entry; a name or a dotted quad: its entry, printed as getent's hostsprint does
/// ("%-16s  %s"). Exit 0, 1 for usage, 2 when a key is not found (getent.c's RV_NOTFOUND).
/// </summary>
public sealed class GetentCommand : ICommand, IUsageStatus
{
    private const int RvNotFound = 2;

    public string Name => "getent";

    public string Usage => "getent database [key ...]";

    public int UsageExitCode => 1;

    public int Run(CommandContext context, string[] args)
    {
        if (args.Length == 0)
        {
            throw new UsageException("getent: a database is required");
        }

        if (args[0] != "hosts")
        {
            throw new UsageException($"Unknown database: {args[0]}");
        }

        IReadOnlyList<HostEntry> table = Hosts.List(context.Vnet);
        if (args.Length == 1)
        {
            foreach (HostEntry e in table)
            {
                Print(context, e);
            }

            return 0;
        }

        int rv = 0;
        foreach (string key in args[1..])
        {
            string name = key.TrimEnd('.');
            HostEntry? found = InAddr.TryParse(key, out InAddr address)
                ? table.Where(e => e.Address == address).Cast<HostEntry?>().FirstOrDefault() // gethostbyaddr
                : table.Where(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)).Cast<HostEntry?>().FirstOrDefault();
            if (found is { } e)
            {
                Print(context, e);
            }
            else
            {
                rv = RvNotFound;
            }
        }

        return rv;
    }

    private static void Print(CommandContext context, HostEntry e) => context.Out.WriteLine($"{e.Address,-16}  {e.Name}");
}
