using System.Text;
using System.Text.RegularExpressions;
using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;

namespace Vimage.Cli.Scenarios;

/// <summary>
/// Runs FreeBSD-style network test scripts against a private set of stacks: one command per line with sh-like
/// variables (<c>epair=$(vnet_mkepair)</c>, <c>${epair}a</c>), <c>&amp;</c> for background commands and <c>wait</c>,
/// the helpers of tests/sys/common/vnet.subr (vnet_init, vnet_mkepair, vnet_mkjail, vnet_cleanup) and ATF's
/// <c>atf_check [-s exit:N] [-o match:RE|empty|ignore|inline:TEXT] [-e ...] command…</c>, and <c>wait_for</c> (atf_check
/// retried until it holds, bounded). The first failing line
/// stops the script (set -e); the result is 0 on success, 1 on failure, 64 for a malformed script.
/// The commands and <c>sleep</c> can be replaced (the fuzzer runs scripts against stand-ins that touch nothing).
/// </summary>
public sealed partial class ScriptInterpreter(TextWriter output, TextWriter error, CommandDispatcher dispatcher, Action<TimeSpan> sleep)
{
    private readonly Dictionary<string, string> _variables = new(StringComparer.Ordinal);
    private readonly JailRegistry _jails = new();
    private readonly List<string> _epairs = [];
    private readonly List<Task<int>> _background = [];
    private readonly CommandDispatcher _dispatcher = dispatcher;

    /// <summary>Bounds a pattern that backtracks without end (a script's output is a few lines).</summary>
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    public ScriptInterpreter(TextWriter output, TextWriter error)
        : this(output, error, CommandDispatcher.CreateDefault(), Thread.Sleep)
    {
    }

    public int Run(string script, string name = "script")
    {
        string[] lines = script.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        try
        {
            for (int n = 0; n < lines.Length; n++)
            {
                string line = lines[n].Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                output.WriteLine("+ " + line);
                string? failure = Execute(line);
                if (failure is not null)
                {
                    error.WriteLine($"{name}:{n + 1}: FAIL: {failure}");
                    return 1;
                }
            }

            Task.WaitAll([.. _background]);
            output.WriteLine($"{name}: PASS");
            return 0;
        }
        catch (ScriptException e)
        {
            error.WriteLine($"{name}: {e.Message}");
            return 64;
        }
        finally
        {
            Cleanup();
        }
    }

    private string? Execute(string line)
    {
        Match assignment = AssignmentPattern().Match(line);
        if (assignment.Success)
        {
            var (exit, stdout, stderr) = Capture(Words(assignment.Groups[2].Value));
            if (exit != 0)
            {
                return $"$({assignment.Groups[2].Value}) exited {exit}: {stderr.Trim()}";
            }

            _variables[assignment.Groups[1].Value] = stdout.Trim();
            return null;
        }

        bool background = line.EndsWith('&');
        List<string> words = Words(background ? line[..^1] : line);
        if (background)
        {
            // The vnet.subr helpers change this interpreter's own lists (sh would run them in a subshell and lose
            // the change); vnet_cleanup in a job would also wait for itself.
            if (words[0] is "vnet_init" or "vnet_mkepair" or "vnet_mkjail" or "vnet_cleanup")
            {
                throw new ScriptException($"{words[0]} cannot run in the background");
            }

            _background.Add(Task.Run(() => Capture(words).Exit));
            return null;
        }

        if (words[0] == "wait")
        {
            Task.WaitAll([.. _background]);
            _background.Clear();
            return null;
        }

        if (words[0] == "atf_check")
        {
            return AtfCheck(words[1..]);
        }

        if (words[0] == "wait_for")
        {
            return WaitFor(words[1..]);
        }

        var (status, text, err) = Capture(words);
        output.Write(text);
        output.Write(err);
        return status == 0 ? null : $"'{string.Join(' ', words)}' exited {status}";
    }

    /// <summary>
    /// <c>wait_for [-t SECONDS] atf_check-arguments…</c> retries the check until it holds, for at most SECONDS (10 by
    /// default): sh's <c>until atf_check …; do sleep 0.1; done</c> with a bound, so scripts wait for a condition, never
    /// for a fixed time. The last failure is the script's failure.
    /// </summary>
    private string? WaitFor(List<string> words)
    {
        double limit = 10;
        if (words.Count > 1 && words[0] == "-t")
        {
            limit = double.TryParse(words[1], System.Globalization.CultureInfo.InvariantCulture, out double t) && t > 0 && t <= 300
                ? t
                : throw new ScriptException($"wait_for: bad timeout {words[1]}");
            words = words[2..];
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            string? failure = AtfCheck(words, echo: false);
            if (failure is null)
            {
                return null;
            }

            if (clock.Elapsed.TotalSeconds > limit)
            {
                return $"wait_for: still failing after {limit} s: {failure}";
            }

            Thread.Sleep(20);
        }
    }

    private string? AtfCheck(List<string> words, bool echo = true)
    {
        int expectedExit = 0;
        string? outCheck = null, errCheck = null;
        int i = 0;
        for (; i < words.Count && words[i].StartsWith('-'); i += 2)
        {
            if (i + 1 >= words.Count)
            {
                throw new ScriptException($"atf_check: {words[i]} needs a value");
            }

            switch (words[i])
            {
                case "-s":
                    expectedExit = words[i + 1].StartsWith("exit:", StringComparison.Ordinal) && int.TryParse(words[i + 1][5..], out int e)
                        ? e
                        : throw new ScriptException($"atf_check: unsupported status check {words[i + 1]}");
                    break;
                case "-o":
                    outCheck = words[i + 1];
                    break;
                case "-e":
                    errCheck = words[i + 1];
                    break;
                default:
                    throw new ScriptException($"atf_check: unknown option {words[i]}");
            }
        }

        if (i >= words.Count)
        {
            throw new ScriptException("atf_check: No command specified"); // atf-check(1)'s usage error
        }

        var (exit, stdout, stderr) = Capture(words[i..]);
        if (echo)
        {
            output.Write(stdout);
        }
        string command = string.Join(' ', words[i..]);
        if (exit != expectedExit)
        {
            return $"'{command}' exited {exit}, expected {expectedExit}; stderr: {stderr.Trim()}";
        }

        return Check("stdout", outCheck, stdout, command) ?? Check("stderr", errCheck, stderr, command);
    }

    private static string? Check(string stream, string? spec, string text, string command)
    {
        if (spec is null || spec == "ignore")
        {
            return null;
        }

        if (spec == "empty")
        {
            return text.Length == 0 ? null : $"{stream} of '{command}' is not empty: {text.Trim()}";
        }

        if (spec.StartsWith("match:", StringComparison.Ordinal))
        {
            return Matches(text, spec[6..])
                ? null
                : $"{stream} of '{command}' does not match /{spec[6..]}/:\n{text}";
        }

        if (spec.StartsWith("not-match:", StringComparison.Ordinal))
        {
            return !Matches(text, spec[10..]) ? null : $"{stream} of '{command}' matches /{spec[10..]}/";
        }

        if (spec.StartsWith("inline:", StringComparison.Ordinal))
        {
            string expected;
            try
            {
                expected = Regex.Unescape(spec[7..]);
            }
            catch (ArgumentException e)
            {
                throw new ScriptException($"atf_check: bad escape in {spec}: {e.Message}");
            }

            return text == expected ? null : $"{stream} of '{command}' is '{text}', expected '{expected}'";
        }

        throw new ScriptException($"atf_check: unsupported check {spec}");
    }

    /// <summary>A script's regular expression against a command's output: a bad pattern is the script's error.</summary>
    private static bool Matches(string text, string pattern)
    {
        try
        {
            return Regex.IsMatch(text, pattern, RegexOptions.Multiline, MatchTimeout);
        }
        catch (RegexParseException e)
        {
            throw new ScriptException($"atf_check: bad regular expression: {e.Message}");
        }
        catch (RegexMatchTimeoutException)
        {
            throw new ScriptException($"atf_check: /{pattern}/ took over {MatchTimeout.TotalSeconds:0} s to match");
        }
    }

    /// <summary>Runs a command (a vnet.subr helper or a vimage command) and captures its output.</summary>
    private (int Exit, string Out, string Err) Capture(List<string> words)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = words[0] switch
        {
            "vnet_init" => Vnet.IsVimage ? 0 : Fail(stderr, "This test requires VIMAGE", 77),
            "vnet_mkepair" => MakeEpair(stdout, stderr),
            "vnet_mkjail" => MakeJail(words, stdout, stderr),
            "vnet_cleanup" => CleanupStatus(),
            "echo" => Echo(stdout, words),
            "sleep" => Sleep(words, stderr),
            _ => _dispatcher.Run(new CommandContext(Vnet.Vnet0, stdout, stderr, _jails), words),
        };
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private int MakeEpair(TextWriter stdout, TextWriter stderr)
    {
        var created = new StringWriter();
        int exit = _dispatcher.Run(new CommandContext(Vnet.Vnet0, created, stderr, _jails), ["ifconfig", "epair", "create"]);
        if (exit != 0)
        {
            return exit;
        }

        string name = created.ToString().Trim().TrimEnd('a');
        _epairs.Add(name);
        stdout.WriteLine(name);
        return 0;
    }

    private int MakeJail(List<string> words, TextWriter stdout, TextWriter stderr)
    {
        if (words.Count < 2)
        {
            return Fail(stderr, "vnet_mkjail: jail name required", 64);
        }

        var argv = new List<string> { "jail", "-c", $"name={words[1]}", "vnet", "persist" };
        argv.AddRange(words.Skip(2).Select(i => $"vnet.interface={i}"));
        return _dispatcher.Run(new CommandContext(Vnet.Vnet0, stdout, stderr, _jails), argv);
    }

    private int CleanupStatus()
    {
        Cleanup();
        return 0;
    }

    /// <summary>vnet_cleanup: jails go (their loaned interfaces return home), then the epairs made here.</summary>
    private void Cleanup()
    {
        try
        {
            Task.WaitAll([.. _background], TimeSpan.FromSeconds(30));
        }
        catch (AggregateException)
        {
            // a background command failed: its status was already reported or ignored
        }

        _background.Clear();
        _jails.RemoveAll();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            foreach (string epair in _epairs)
            {
                if (Ifnets.TryFind(epair + "a") is { } a)
                {
                    Ifnets.Destroy(a.Name);
                }
            }
        }

        _epairs.Clear();
    }

    private static int Echo(TextWriter stdout, List<string> words)
    {
        stdout.WriteLine(string.Join(' ', words.Skip(1)));
        return 0;
    }

    private int Sleep(List<string> words, TextWriter stderr)
    {
        double seconds = 1;
        if (words.Count > 1 && (!double.TryParse(words[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out seconds)
                                || !double.IsFinite(seconds) || seconds < 0))
        {
            return Fail(stderr, $"sleep: invalid time interval: {words[1]}", 1); // sleep(1)'s message
        }

        sleep(TimeSpan.FromSeconds(Math.Min(seconds, 30)));
        return 0;
    }

    private static int Fail(TextWriter stderr, string message, int status)
    {
        stderr.WriteLine(message);
        return status;
    }

    /// <summary>Splits a line into words: quotes group, $VAR / ${VAR} expand.</summary>
    private List<string> Words(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '$' && quote == '"')
                {
                    i = Expand(line, i, current);
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else if (c == '$')
            {
                i = Expand(line, i, current);
                inWord = true;
            }
            else if (c == '\\' && i + 1 < line.Length)
            {
                current.Append(line[++i]);
                inWord = true;
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (quote != '\0')
        {
            throw new ScriptException($"unterminated quote in: {line}");
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words.Count > 0 ? words : throw new ScriptException($"empty command: {line}");
    }

    private int Expand(string line, int dollar, StringBuilder into)
    {
        Match m = VariablePattern().Match(line, dollar);
        if (!m.Success || m.Index != dollar)
        {
            into.Append('$');
            return dollar;
        }

        string name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
        if (!_variables.TryGetValue(name, out string? value))
        {
            throw new ScriptException($"undefined variable ${name}");
        }

        into.Append(value);
        return dollar + m.Length - 1;
    }

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*)=\$\((.+)\)$")]
    private static partial Regex AssignmentPattern();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex VariablePattern();
}

public sealed class ScriptException(string message) : Exception(message);
