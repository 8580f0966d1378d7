using System.Globalization;
using Vimage.Net;
using Vimage.Net.Tap;

namespace Vimage.Cli.Commands;

/// <summary>
/// Vimage's extension to <c>ifconfig tap create</c> (FreeBSD's tap(4) has no Linux side to place):
/// <c>linuxname NAME</c> (the Linux interface name, a <c>%d</c> taking the lowest free number), <c>netns NS</c>
/// (the Linux network namespace the device is made in: a name under /var/run/netns or a path such as
/// /proc/PID/ns/net) and <c>queues N</c> (1 to 16 queues, as many iflib TX/RX queues). Each defaults to
/// net.link.tap's process-wide settings (vtap%d, this process's namespace, 1 queue). Checked before anything is made.
/// </summary>
internal static class IfconfigTapCreate
{
    public static readonly string[] Keywords = ["linuxname", "netns", "queues"];

    /// <summary>Takes the extension's words out of <paramref name="parameters"/>; null when there were none.</summary>
    public static TapHostConfig? Extract(CommandContext context, ref string[] parameters)
    {
        TapHostConfig defaults = TapCloner.HostConfig;
        string? linuxName = null, netns = null;
        int? queues = null;
        var rest = new List<string>();
        for (int j = 0; j < parameters.Length; j++)
        {
            string p = parameters[j];
            if (Array.IndexOf(Keywords, p) < 0)
            {
                rest.Add(p);
                continue;
            }

            if (j + 1 >= parameters.Length)
            {
                throw new CommandException($"ifconfig: '{p}' requires argument");
            }

            string value = parameters[++j];
            switch (p)
            {
                case "linuxname":
                    linuxName = CheckLinuxName(value);
                    break;
                case "netns":
                    netns = CheckNetns(context, value);
                    break;
                default:
                    queues = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= TapDevice.MaxQueues
                        ? n
                        : throw new CommandException($"ifconfig: queues {value}: bad value (1 to {TapDevice.MaxQueues})");
                    break;
            }
        }

        if (linuxName is null && netns is null && queues is null)
        {
            return null;
        }

        parameters = [.. rest];
        return new TapHostConfig(linuxName ?? defaults.NamePattern, netns ?? defaults.Netns, queues ?? defaults.Queues);
    }

    /// <summary>Makes the interface; the kernel's refusals (a taken name: EBUSY) become ifconfig's SIOCIFCREATE2 error.</summary>
    public static Ifnet Create(string name, TapHostConfig config)
    {
        int unit = name.Length > 3 ? int.Parse(name.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture) : -1;
        try
        {
            return TapCloner.CreateWith(config, unit);
        }
        catch (TapException e)
        {
            const int EBUSY = 16; // the same number on Linux and FreeBSD
            throw new CommandException(e.Errno == EBUSY
                ? $"ifconfig: SIOCIFCREATE2 ({name}): Device busy (linuxname {config.NamePattern} is taken{(config.Netns is null ? "" : $" in netns {config.Netns}")})"
                : $"ifconfig: SIOCIFCREATE2 ({name}): {e.Message}");
        }
    }

    /// <summary>A Linux interface name: 1 to 15 bytes, no '/', ':' or white space (dev_valid_name).</summary>
    private static string CheckLinuxName(string value)
    {
        if (value.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(value) > TapDevice.MaxNameLength || value is "." or ".."
            || value.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)))
        {
            throw new CommandException($"ifconfig: linuxname {value}: bad value (1 to {TapDevice.MaxNameLength} bytes, no '/', ':' or spaces)");
        }

        return value;
    }

    /// <summary>The namespace must exist; only the host chooses one (a jail could otherwise reach any namespace).</summary>
    private static string CheckNetns(CommandContext context, string value)
    {
        if (context.InJail)
        {
            throw new CommandException("ifconfig: netns: Operation not permitted (only the host chooses a Linux namespace)");
        }

        string path = value.Contains('/', StringComparison.Ordinal) ? value : Path.Combine("/var/run/netns", value);
        if (value.Length == 0 || value is "." or ".." || !File.Exists(path))
        {
            throw new CommandException($"ifconfig: netns {value}: No such file or directory (no such network namespace; ip netns add {value})");
        }

        return value;
    }
}
