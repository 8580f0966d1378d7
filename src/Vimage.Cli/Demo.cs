using System.Diagnostics;
using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net.Bpf;

namespace Vimage.Cli;

/// <summary>
/// The README's main job: three vnet jails (client, router, server) joined by two epairs, forwarding on in the
/// router; pings across, a UDP echo, each jail's interfaces and routes, netstat -s deltas, and a pcap of the
/// client's link — all through the same FreeBSD-style commands a user would type.
/// </summary>
internal sealed class Demo(TextWriter output, string pcapPath)
{
    private const int Steps = 8;
    private readonly CommandDispatcher _commands = CommandDispatcher.CreateDefault();
    private readonly JailRegistry _jails = new();
    private readonly List<string> _epairs = [];
    private int _step;

    public static int Run(TextWriter output, string pcapPath)
    {
        var demo = new Demo(output, Path.GetFullPath(pcapPath));
        try
        {
            return demo.Play();
        }
        finally
        {
            demo.Cleanup();
        }
    }

    private int Play()
    {
        var clock = Stopwatch.StartNew();
        output.WriteLine("Vimage demo: FreeBSD VIMAGE network stacks in one .NET process");
        output.WriteLine($"  {CpuId.Count} CPUs, VIMAGE {(Vnet.IsVimage ? "on" : "off")}, vnet region {VnetSystem.RegionSize:N0} bytes " +
                         $"(sets {VnetSystem.StaticSize:N0} + reserve {VnetSystem.ModMin:N0}), {VnetSymbols.All.Count} virtualized globals");
        if (!Vnet.IsVimage)
        {
            output.WriteLine();
            output.WriteLine("This build has -p:Vimage=false: only vnet0 exists, so the demo pings itself over lo0.");
            Host("ping", "-c", "3", "-i", "0.2", "127.0.0.1");
            Host("netstat", "-sp", "icmp");
            return 0;
        }

        Progress("creating jails client, router and server, joined by two epairs");
        string left = Epair(), right = Epair();
        Host("jail", "-c", "name=client", "vnet", $"vnet.interface={left}a");
        Host("jail", "-c", "name=router", "vnet", $"vnet.interface={left}b", $"vnet.interface={right}a");
        Host("jail", "-c", "name=server", "vnet", $"vnet.interface={right}b");

        Progress("addresses, routes and forwarding (only in the router)");
        Jexec("client", "ifconfig", $"{left}a", "inet", "192.0.2.1/24", "up");
        Jexec("router", "ifconfig", $"{left}b", "inet", "192.0.2.2/24", "up");
        Jexec("router", "ifconfig", $"{right}a", "inet", "198.51.100.1/24", "up");
        Jexec("server", "ifconfig", $"{right}b", "inet", "198.51.100.2/24", "up");
        Jexec("client", "route", "add", "default", "192.0.2.2");
        Jexec("server", "route", "add", "default", "198.51.100.1");
        Jexec("router", "sysctl", "net.inet.ip.forwarding=1");
        Host("sysctl", "net.inet.ip.forwarding");

        Dictionary<string, string> before = Snapshot();
        using var pcap = new PcapWriter(pcapPath);
        using BpfSession capture = ClientInterface(left).Bpf.Attach(pcap);

        Progress("ping across the router");
        Jexec("client", "ping", "-c", "3", "-i", "0.2", "198.51.100.2");

        Progress("UDP echo: the server echoes what the client sends");
        UdpEcho.Run(output, _jails.Find("client").Vnet, _jails.Find("server").Vnet);

        Progress("capture");
        capture.Dispose();
        pcap.Flush();
        output.WriteLine($"      {capture.PacketsCaptured} packets from {left}a written to {pcapPath}  (read it with: tcpdump -nr {Path.GetFileName(pcapPath)})");

        Progress("TCP transfer: 32 MiB from the client to a sink in the server, through the router");
        TcpTransfer.Run(output, _jails.Find("client").Vnet, _jails.Find("server").Vnet);

        Progress("each jail's interfaces and routes");
        foreach (string jail in new[] { "client", "router", "server" })
        {
            output.WriteLine($"--- {jail} ---");
            Jexec(jail, "ifconfig");
            Jexec(jail, "netstat", "-rn");
        }

        Progress("netstat -s deltas during the traffic");
        PrintDeltas(before, Snapshot());
        output.WriteLine();
        output.WriteLine($"done in {clock.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }

    private Vimage.Net.Ifnet ClientInterface(string epair)
    {
        using (Curvnet.Set(_jails.Find("client").Vnet))
        {
            return Vimage.Net.Ifnets.Find(epair + "a");
        }
    }

    private void Progress(string what)
    {
        _step++;
        output.WriteLine();
        output.WriteLine($"[{_step}/{Steps}] {what}");
    }

    private string Epair()
    {
        var name = new StringWriter();
        Run(Vnet.Vnet0, name, ["ifconfig", "epair", "create"]);
        string epair = name.ToString().Trim().TrimEnd('a');
        _epairs.Add(epair);
        output.WriteLine($"  $ ifconfig epair create\n  {epair}a");
        return epair;
    }

    private void Host(params string[] argv) => Echo("", Vnet.Vnet0, argv);

    private void Jexec(string jail, params string[] argv) => Echo($"jexec {jail} ", _jails.Find(jail).Vnet, argv);

    private void Echo(string prefix, Vnet vnet, string[] argv)
    {
        output.WriteLine($"  $ {prefix}{string.Join(' ', argv)}");
        var text = new StringWriter();
        Run(vnet, text, argv);
        foreach (string line in text.ToString().TrimEnd().Split('\n').Where(l => l.Length > 0))
        {
            output.WriteLine("  " + line);
        }
    }

    private void Run(Vnet vnet, TextWriter text, string[] argv)
    {
        int exit = _commands.Run(new CommandContext(vnet, text, text, _jails), argv);
        if (exit != 0 && argv[0] != "ping")
        {
            throw new InvalidOperationException($"demo step failed: {string.Join(' ', argv)} (exit {exit}): {text}");
        }
    }

    /// <summary>netstat -s counters of interest per jail, by name.</summary>
    private Dictionary<string, string> Snapshot()
    {
        var values = new Dictionary<string, string>();
        foreach (Jail jail in _jails.All)
        {
            var text = new StringWriter();
            _commands.Run(new CommandContext(jail.Vnet, text, text, _jails), ["netstat", "-s"]);
            int i = 0;
            foreach (string line in text.ToString().Split('\n'))
            {
                values[$"{jail.Name}#{i++}"] = line;
            }
        }

        return values;
    }

    private void PrintDeltas(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        foreach (Jail jail in _jails.All)
        {
            output.WriteLine($"--- {jail.Name} ---");
            string section = "";
            for (int i = 0; after.TryGetValue($"{jail.Name}#{i}", out string? line); i++)
            {
                if (!line.StartsWith('\t') && line.EndsWith(':'))
                {
                    section = line;
                    continue;
                }

                if (line != before.GetValueOrDefault($"{jail.Name}#{i}") && System.Text.RegularExpressions.Regex.IsMatch(line, @"^\t+[1-9]"))
                {
                    if (section.Length > 0)
                    {
                        output.WriteLine("  " + section);
                        section = "";
                    }

                    output.WriteLine("  " + line.TrimEnd());
                }
            }
        }
    }

    private void Cleanup()
    {
        _jails.RemoveAll();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            foreach (string epair in _epairs)
            {
                if (Vimage.Net.Ifnets.TryFind(epair + "a") is { } a)
                {
                    Vimage.Net.Ifnets.Destroy(a.Name);
                }
            }
        }
    }
}
