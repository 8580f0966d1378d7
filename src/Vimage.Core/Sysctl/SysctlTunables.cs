using System.Collections.Concurrent;

namespace Vimage.Core;

/// <summary>
/// Loader tunables (kenv): name=value pairs given at start-up and applied to an OID with CTLFLAG_TUN when it
/// registers, before any vnet other than those already built sees it. Sources, later ones winning: the file
/// named by VIMAGE_LOADER_CONF (loader.conf syntax: <c>name="value"</c>, # comments), then VIMAGE_TUNABLES
/// (<c>name=value</c> separated by ';' or newlines), then <see cref="Set"/> calls.
/// </summary>
public static class SysctlTunables
{
    private static readonly ConcurrentQueue<string> Errors = new(); // before Values: Load reports into it
    private static readonly ConcurrentDictionary<string, string> Values = Load();

    /// <summary>Tunables that could not be parsed or applied (a bad value is reported and ignored, as the loader does).</summary>
    public static IReadOnlyList<string> ErrorLog => Errors.ToArray();

    public static string? Get(string name) => Values.TryGetValue(name, out string? value) ? value : null;

    /// <summary>kenv name=value: affects OIDs registered from now on (modules loaded later).</summary>
    public static void Set(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        Values[name.Trim()] = value;
    }

    public static bool Unset(string name) => Values.TryRemove(name, out _);

    internal static void ReportError(string message)
    {
        Errors.Enqueue(message);
        Console.Error.WriteLine($"vimage: {message}");
    }

    /// <summary>Parses loader.conf text into pairs; malformed lines are reported, never fatal.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pairs = new List<KeyValuePair<string, string>>();
        int lineNumber = 0;
        foreach (string raw in text.Split(['\n', ';']))
        {
            lineNumber++;
            string line = raw.Trim();
            int hash = line.IndexOf('#');
            if (hash >= 0 && !IsInsideQuotes(line, hash))
            {
                line = line[..hash].Trim();
            }

            if (line.Length == 0)
            {
                continue;
            }

            int eq = line.IndexOf('=');
            if (eq <= 0)
            {
                ReportError($"{source}:{lineNumber}: '{line}' is not name=value");
                continue;
            }

            string name = line[..eq].Trim();
            string value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
            {
                value = value[1..^1];
            }

            pairs.Add(new(name, value));
        }

        return pairs;
    }

    private static bool IsInsideQuotes(string line, int index) => line[..index].Count(c => c == '"') % 2 == 1;

    private static ConcurrentDictionary<string, string> Load()
    {
        var values = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        string? file = Environment.GetEnvironmentVariable("VIMAGE_LOADER_CONF");
        if (!string.IsNullOrWhiteSpace(file))
        {
            try
            {
                foreach (var pair in Parse(File.ReadAllText(file), file))
                {
                    values[pair.Key] = pair.Value;
                }
            }
            catch (IOException e)
            {
                ReportError($"cannot read VIMAGE_LOADER_CONF={file}: {e.Message}");
            }
        }

        string? inline = Environment.GetEnvironmentVariable("VIMAGE_TUNABLES");
        if (!string.IsNullOrWhiteSpace(inline))
        {
            foreach (var pair in Parse(inline, "VIMAGE_TUNABLES"))
            {
                values[pair.Key] = pair.Value;
            }
        }

        return values;
    }
}
