using System.CommandLine;
using Vimage.Cli;
using Vimage.Cli.Commands;
using Vimage.Cli.Host;
using Vimage.Cli.Shell;

// vimage                      the demo (the README's main job)
// vimage demo|host|run ...    this program's own commands
// vimage ifconfig -a ...      any FreeBSD command: sent verbatim to the host process (started on demand)

// With no command the main job runs: the demo.
if (args.Length == 0)
{
    return Demo.Run(Console.Out, DefaultPcap);
}

var commands = CommandCatalog.All().OrderBy(c => c.Name, StringComparer.Ordinal).ToList();

// FreeBSD commands bypass the parser: their argv (-a, -c 1, --, @x, -h ...) belongs to them, verbatim.
if (commands.Any(c => c.Name == args[0]))
{
    return RunClient(args);
}

var root = new RootCommand("vimage: FreeBSD VIMAGE virtual network stacks in one .NET process. " +
                           "Run with no command for the demo; FreeBSD commands run in a host process (vimage host), started on demand.");

var demo = new Command("demo", "Three vnet jails joined by epairs: pings, UDP echo, routes, netstat and a pcap (the default with no command)");
var pcap = new Option<string>("--pcap") { Description = "Where to write the capture of the client's link", DefaultValueFactory = _ => DefaultPcap };
demo.Options.Add(pcap);
demo.SetAction(result => Demo.Run(Console.Out, result.GetValue(pcap)!));
root.Subcommands.Add(demo);

var host = new Command("host", "Run the host process that owns the vnets and serves commands on a Unix socket " +
                               "(default: detach and return once listening)");
var socket = new Option<string?>("--socket")
{
    Description = $"Socket path (default: ${HostPaths.SocketVariable}, else $XDG_RUNTIME_DIR/vimage/host.sock, else /tmp/vimage-UID/host.sock)",
};
var foreground = new Option<bool>("--foreground") { Description = "Serve in this process, logging to stderr, until SIGINT/SIGTERM or vimage host --stop" };
var stop = new Option<bool>("--stop") { Description = "Ask the running host to shut down" };
var status = new Option<bool>("--status") { Description = "Describe the running host" };
var daemon = new Option<bool>("--daemon") { Hidden = true };
var maxConnections = new Option<int>("--max-connections")
{
    Description = $"Connections served at once; extras are refused with an error (default {HostLimits.DefaultMaxConnections}, " +
                  $"never more than the descriptor limit minus {HostLimits.DescriptorReserve})",
    DefaultValueFactory = _ => HostLimits.DefaultMaxConnections,
};
maxConnections.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() < 1)
    {
        r.AddError("--max-connections must be at least 1");
    }
});
var ioTimeout = new Option<double>("--io-timeout")
{
    Description = "Seconds a client may take to send its request, and to take each output frame, before it is dropped (default 30)",
    DefaultValueFactory = _ => 30,
};
ioTimeout.Validators.Add(r =>
{
    double value = r.GetValueOrDefault<double>();
    if (!(value > 0 && value <= 86400))
    {
        r.AddError("--io-timeout must be between 0 and 86400 seconds");
    }
});
host.Options.Add(socket);
host.Options.Add(foreground);
host.Options.Add(stop);
host.Options.Add(status);
host.Options.Add(daemon);
var outputBuffer = new Option<int>("--output-buffer")
{
    Description = "Output bytes queued per connection for a client that reads slowly (default 262144; the socket's own buffer is at most 64 KiB)",
    DefaultValueFactory = _ => 256 * 1024,
};
outputBuffer.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() is < 4096 or > 64 * 1024 * 1024)
    {
        r.AddError("--output-buffer must be between 4096 and 67108864 bytes");
    }
});
host.Options.Add(maxConnections);
host.Options.Add(outputBuffer);
host.Options.Add(ioTimeout);
host.SetAction(result =>
{
    var limits = new HostLimits
    {
        MaxConnections = result.GetValue(maxConnections),
        RequestTimeout = TimeSpan.FromSeconds(result.GetValue(ioTimeout)),
        WriteTimeout = TimeSpan.FromSeconds(result.GetValue(ioTimeout)),
        OutputQueueBytes = result.GetValue(outputBuffer),
    };
    return HostMain.Run(result.GetValue(socket), result.GetValue(foreground), result.GetValue(daemon), result.GetValue(stop), result.GetValue(status), limits);
});
root.Subcommands.Add(host);

ShellCommands.Add(root);

// Listed for --help; never parsed (handled verbatim above).
foreach (ICommand command in commands)
{
    var passThrough = new Command(command.Name, command.Usage) { TreatUnmatchedTokensAsErrors = false };
    passThrough.Arguments.Add(new Argument<string[]>("args") { Arity = ArgumentArity.ZeroOrMore });
    passThrough.SetAction(_ => RunClient(args[Array.IndexOf(args, command.Name)..]));
    root.Subcommands.Add(passThrough);
}

const string Usage = "usage: vimage [demo | host | run SCRIPT | shell | atf run FILE | COMMAND [ARGS...]]   (vimage --help lists the commands)";
if (!args[0].StartsWith('-') && !root.Subcommands.Any(c => c.Name == args[0]))
{
    Console.Error.WriteLine($"vimage: {args[0]}: unknown command");
    Console.Error.WriteLine(Usage);
    return 64; // EX_USAGE
}

ParseResult parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
if (parsed.Errors.Count > 0)
{
    foreach (var parseError in parsed.Errors)
    {
        Console.Error.WriteLine($"vimage: {parseError.Message}");
    }

    Console.Error.WriteLine(Usage);
    return 64; // EX_USAGE
}

return parsed.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });

static int RunClient(string[] argv)
{
    using TextWriter output = HostClient.StdWriter(error: false);
    using TextWriter error = HostClient.StdWriter(error: true);
    return HostClient.Run(argv, output, error);
}

internal partial class Program
{
    private const string DefaultPcap = "vimage-demo.pcap";
}
