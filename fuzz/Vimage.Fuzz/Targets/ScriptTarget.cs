using System.Globalization;
using System.Text;
using Vimage.Cli.Commands;
using Vimage.Cli.Scenarios;
using Vimage.Fuzz.Engine;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// script: the scenario interpreter's parsing and dispatch (variables, $(...), quoting, &amp; and wait, the
/// vnet.subr helpers, atf_check's options and output checks). Commands are stand-ins that echo their argv and
/// exit with a status taken from it, and sleep does not sleep (but checks its argument as Thread.Sleep would):
/// a script can do nothing outside this process.
/// Run must always return a status (0, 1 or 64); an exception escaping it is a crash.
/// </summary>
internal sealed class ScriptTarget : IFuzzTarget
{
    private static readonly string[] CommandNames = ["jail", "jls", "jexec", "ifconfig", "route", "netstat", "arp", "sysctl", "ping", "tcpdump"];
    private readonly CommandDispatcher _dispatcher = new(CommandNames.Select(name => (ICommand)new StandIn(name)));

    public string Name => "script";

    public int MaxLength => 4096;

    public IReadOnlyList<byte[]> Dictionary { get; } = new[]
    {
        "atf_check", " -s exit:", " -o ", " -e ", "match:", "not-match:", "inline:", "empty", "ignore", "$(", ")", "${", "}", "$",
        "\"", "'", "\\", " &", "\nwait", "\n", "#", "=", "vnet_init", "vnet_mkepair", "vnet_mkjail ", "vnet_cleanup", "echo ", "sleep ",
        "ifconfig ", "jexec ", "ping -c 1 ", "sysctl ", "epair", "a", "b", "[", "(", "*", "\\n", "\\u00", "err",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    public void Run(ReadOnlySpan<byte> input)
    {
        string script = Encoding.UTF8.GetString(input);
        int status = new ScriptInterpreter(TextWriter.Null, TextWriter.Null, _dispatcher, NoSleep).Run(script, "fuzz");
        if (status is not (0 or 1 or 64))
        {
            throw new InvalidOperationException($"the interpreter returned {status}, not 0, 1 or 64");
        }
    }

    public string? Teardown() => null;

    /// <summary>Returns at once, but refuses what Thread.Sleep refuses (a negative time; -1 ms would never wake).</summary>
    private static void NoSleep(TimeSpan time) => ArgumentOutOfRangeException.ThrowIfLessThan(time, TimeSpan.Zero);

    /// <summary>Prints its arguments; "err" also goes to stderr; a numeric last argument is the exit status.</summary>
    private sealed class StandIn(string name) : ICommand
    {
        public string Name => name;

        public string Usage => name + " [args]";

        public int Run(CommandContext context, string[] args)
        {
            if (name == "ifconfig" && args is ["epair", "create"])
            {
                context.Out.WriteLine("epair0a");
                return 0;
            }

            context.Out.WriteLine(string.Join(' ', args));
            if (args.Contains("err"))
            {
                context.Err.WriteLine(name + ": err");
            }

            return args.Length > 0 && int.TryParse(args[^1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int status) ? status & 0xff : 0;
        }
    }
}
