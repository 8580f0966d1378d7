using Vimage.Net;
using Vimage.Net.Dummynet;
using Vimage.Net.Ipfw;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// Vimage extension: <c>ifconfig IF delay 20ms loss 1% rate 100Mbit [jitter 2ms] [seed N]</c> is shorthand for a
/// dummynet pipe numbered 60000 + the interface index with those settings and rule of the same number
/// <c>pipe N ip from any to any out xmit IF</c> (packets leaving through IF). Running it again replaces both;
/// everything is parsed before anything changes, and errors are ipfw's. When it is what loads ipfw in the vnet it
/// also adds <c>65000 allow ip from any to any</c>, so the default deny rule does not cut the vnet's other traffic.
/// </summary>
public static class LinkShorthand
{
    private static readonly HashSet<string> Keywords = ["delay", "loss", "rate", "jitter", "seed"];

    public static bool Applies(string[] parameters) => parameters.Length >= 2 && Keywords.Contains(parameters[0]);

    public static int Run(CommandContext context, string ifname, string[] parameters)
    {
        if (Ifnets.TryFind(ifname) is not { } ifp)
        {
            context.Err.WriteLine($"ifconfig: interface {ifname} does not exist");
            return 1;
        }

        var args = new List<string>();
        for (int i = 0; i < parameters.Length; i++)
        {
            string key = parameters[i];
            if (!Keywords.Contains(key) || i + 1 >= parameters.Length)
            {
                context.Err.WriteLine($"ifconfig: {key}: bad value");
                return 1;
            }

            string value = parameters[++i];
            args.Add(key switch { "loss" => "plr", "rate" => "bw", _ => key });
            args.Add(value);
        }

        try
        {
            DnPipeConfig config = DummynetParser.ParsePipe([.. args], 0, DnIo.SlotLimit, DnIo.ByteLimit, out _, out _);
            int nr = 60000 + ifp.Index;
            if (!IpFw.IsLoaded)
            {
                // loading ipfw brings the default deny rule: keep the vnet's other traffic flowing as before
                IpFw.Load();
                IpFw.Chain.Add(new IpFwRule { Number = 65000, Action = IpFwAction.Allow }, IpFw.AutoincStep);
            }

            DnIo.Tables.ConfigurePipe(nr, config);
            IpFw.Chain.Delete(nr);
            IpFw.Chain.Add(new IpFwRule { Number = nr, Action = IpFwAction.Pipe, Argument = nr, Direction = IpFwDir.Out, Via = IpFwVia.Xmit, Interface = ifname }, IpFw.AutoincStep);
            return 0;
        }
        catch (IpfwException e)
        {
            context.Err.WriteLine($"ifconfig: {e.Message}");
            return 1;
        }
    }
}
