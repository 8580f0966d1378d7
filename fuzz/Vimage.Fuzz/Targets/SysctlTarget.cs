using System.Text;
using Vimage.Core;
using Vimage.Fuzz.Engine;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// sysctl: names and values as sysctl(8) and loader.conf take them. Each line "name=value" is written — through
/// the same path as <c>sysctl name=value</c> (lookup, permission, type and range check, "old -> new") — when
/// the name is one of the harness's fuzz.* OIDs (one per value type, writes land in harness fields), and only
/// looked up and printed otherwise, so no real tunable changes. The whole input is also parsed as loader.conf.
/// A bad name or value must end in <see cref="SysctlException"/>; any other exception is a crash.
/// </summary>
internal sealed class SysctlTarget : IFuzzTarget
{
    private readonly Vnet? _jail;
    private int _int;
    private uint _uint;
    private long _long;
    private ulong _u64;
    private bool _bool;
    private string _string = "";

    public SysctlTarget()
    {
        Console.SetError(TextWriter.Null); // loader.conf parse errors are printed as well as logged
        const SysctlFlags flags = SysctlFlags.RW | SysctlFlags.VNET | SysctlFlags.ANYBODY;
        Sysctl.AddProc("fuzz.int", flags, "int", () => _int, v => _int = v, min: -5, max: 100_000);
        Sysctl.AddProc("fuzz.uint", flags, "uint", () => _uint, v => _uint = v);
        Sysctl.AddProc("fuzz.long", flags, "long", () => _long, v => _long = v);
        Sysctl.AddProc("fuzz.u64", flags, "u64", () => _u64, v => _u64 = v);
        Sysctl.AddProc("fuzz.bool", flags, "bool", () => _bool, v => _bool = v);
        Sysctl.AddProc("fuzz.string", flags, "string", () => _string, v => _string = v, maxLength: 16);
        _jail = Vnet.IsVimage ? Vnet.Create("fuzz-sysctl") : null;
    }

    public string Name => "sysctl";

    public int MaxLength => 1024;

    public IReadOnlyList<byte[]> Dictionary { get; } = new[]
    {
        "fuzz.int=", "fuzz.uint=", "fuzz.long=", "fuzz.u64=", "fuzz.bool=", "fuzz.string=", "net.inet.ip.ttl", "net.inet.ip.maxfrags",
        "kern.", "net.", "=", "\n", ";", "#", "\"", "0x", "-", "+", " ", "true", "false", "18446744073709551615", "9223372036854775808",
        "-9223372036854775809", "4294967296", "2147483648", "..", ".", "\0", "\u00a0", "٣",
    }.Select(Encoding.UTF8.GetBytes).ToArray();

    public void Run(ReadOnlySpan<byte> input)
    {
        string text = Encoding.UTF8.GetString(input);
        foreach (string line in text.Split('\n'))
        {
            int eq = line.IndexOf('=');
            string name = eq >= 0 ? line[..eq] : line;
            Try(() => Sysctl.List(name.Length == 0 ? "fuzz" : name));
            if (eq >= 0 && name.StartsWith("fuzz.", StringComparison.Ordinal))
            {
                string value = line[(eq + 1)..];
                Try(() => Sysctl.SetAndReport(name, value));
                if (_jail is not null)
                {
                    Try(() => Sysctl.SetAndReport(name, value, _jail, privileged: false));
                }
            }
        }

        _ = SysctlTunables.Parse(text, "fuzz");
    }

    public string? Teardown()
    {
        _jail?.Destroy();
        return null;
    }

    private static void Try(Func<object> action)
    {
        try
        {
            action();
        }
        catch (SysctlException)
        {
            // unknown name, a node, read only, or a value of the wrong type or range: the documented refusal
        }
    }
}
