using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Route;

namespace Vimage.Cli.Tests;

/// <summary>What one command printed and returned.</summary>
internal sealed record CliResult(int Exit, string Out, string Err)
{
    public string[] Lines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {Exit}\n--- stdout\n{Out}--- stderr\n{Err}";
}

/// <summary>
/// Runs command lines in-process through the default dispatcher, like the host would, and on Dispose puts vnet0
/// back as it found it: jails removed, interfaces created since destroyed, routes added since deleted.
/// </summary>
internal sealed class CliFixture : IDisposable
{
    private readonly CommandDispatcher _dispatcher = CommandDispatcher.CreateDefault();
    private readonly HashSet<Ifnet> _interfacesBefore;
    private readonly HashSet<Rtentry> _routesBefore;

    public CliFixture()
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            _interfacesBefore = [.. Ifnets.Current.Snapshot()];
            _routesBefore = [.. Routes.Of(Vnet.Vnet0)]; // every fib's
        }
    }

    public JailRegistry Jails { get; } = new();

    /// <summary>Runs a command line (split on spaces; "double quotes" group words) in vnet0.</summary>
    public CliResult Run(string line) => RunIn(Vnet.Vnet0, Split(line));

    public CliResult RunIn(Vnet vnet, params string[] argv)
    {
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        int exit = _dispatcher.Run(new CommandContext(vnet, output, error, Jails), argv);
        return new CliResult(exit, output.ToString(), error.ToString());
    }

    /// <summary>Runs a line that must succeed; returns its stdout.</summary>
    public string Ok(string line)
    {
        CliResult r = Run(line);
        Assert.True(r.Exit == 0, $"'{line}' failed: {r}");
        return r.Out;
    }

    /// <summary>ifconfig epair create: returns the pair's unit name ("epair3") — ends are NAME + "a" / "b".</summary>
    public string NewEpair()
    {
        string created = Ok("ifconfig epair create").Trim();
        Assert.Matches(@"^epair\d+a$", created);
        return created[..^1];
    }

    public static string[] Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool quoted = false, any = false;
        foreach (char c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (c == ' ' && !quoted)
            {
                if (any)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    any = false;
                }
            }
            else
            {
                word.Append(c);
                any = true;
            }
        }

        if (any)
        {
            words.Add(word.ToString());
        }

        return [.. words];
    }

    /// <summary>Sends one ICMP echo request from <paramref name="vnet"/> (fire and forget; callers poll the statistics).</summary>
    public static int SendEcho(Vnet vnet, string destination, ushort sequence = 1)
    {
        using (Curvnet.Set(vnet))
        {
            Mbuf m = MbufPool.Clusters.Get()!;
            Span<byte> icmp = m.Append(16);
            icmp.Clear();
            icmp[0] = IcmpType.Echo;
            BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], 0x4242);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
            return IpOutput.Send(m, InAddr.Any, InAddr.Parse(destination), IpProto.Icmp);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the timeout passes.</summary>
    public static bool WaitFor(Func<bool> condition, int timeoutMs = 5000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (Environment.TickCount64 < deadline)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(10);
        }

        return condition();
    }

    /// <summary>The line of <paramref name="text"/> matching <paramref name="pattern"/>, or a failed assertion showing the text.</summary>
    public static string LineMatching(string text, string pattern)
    {
        string? line = text.Split('\n').FirstOrDefault(l => Regex.IsMatch(l, pattern));
        Assert.True(line is not null, $"no line matches /{pattern}/ in:\n{text}");
        return line!;
    }

    public void Dispose()
    {
        Jails.RemoveAll();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            IpFw.Unload(); // kldunload: an ipfw command loads it in vnet0, which every test shares (a no-op otherwise)
            foreach (Rtentry r in Routes.Of(Vnet.Vnet0).Where(r => !_routesBefore.Contains(r)).ToArray())
            {
                try
                {
                    Routes.Delete(r.Destination, r.PrefixLength, null, r.Fib);
                }
                catch (RouteException)
                {
                    // already gone with its interface
                }
            }

            foreach (Ifnet ifp in Ifnets.Current.Snapshot().Where(i => !_interfacesBefore.Contains(i)))
            {
                if (!ifp.IsDetached && ifp.Cloner is not null)
                {
                    try
                    {
                        Ifnets.Destroy(ifp.Name);
                    }
                    catch (IfException)
                    {
                        // its partner went first
                    }
                }
            }
        }
    }
}
