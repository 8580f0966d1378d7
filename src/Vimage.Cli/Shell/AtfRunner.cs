using System.Diagnostics;
using System.Globalization;

namespace Vimage.Cli.Shell;

/// <summary>
/// <c>vimage atf run FILE [-v name=value]... [CASE...]</c>: a small kyua for ATF shell test programs. Lists the cases
/// (atf_init_test_cases / atf_add_test_case), and for each: runs its head to learn its variables, applies
/// require.user / require.config / require.progs, runs the body in a fresh scratch directory, then its cleanup
/// (always, when declared with <c>atf_test_case NAME cleanup</c>) in the same directory, and prints kyua's line
/// <c>FILE:CASE  -&gt;  passed  [0.123s]</c>. Exit 1 if any case failed or broke.
/// </summary>
public sealed class AtfRunner(TextWriter output, TextWriter error)
{
    public int Run(string file, IReadOnlyList<string> arguments)
    {
        var config = new Dictionary<string, string>(StringComparer.Ordinal);
        var wanted = new List<string>();
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] == "-v" && i + 1 < arguments.Count && arguments[i + 1].IndexOf('=') > 0)
            {
                string pair = arguments[++i];
                config[pair[..pair.IndexOf('=')]] = pair[(pair.IndexOf('=') + 1)..];
            }
            else if (arguments[i].StartsWith('-'))
            {
                error.WriteLine($"vimage atf run: unknown option {arguments[i]}");
                error.WriteLine("usage: vimage atf run FILE [-v name=value]... [CASE...]");
                return 64;
            }
            else
            {
                wanted.Add(arguments[i]);
            }
        }

        if (!File.Exists(file))
        {
            error.WriteLine($"vimage atf run: {file}: No such file or directory");
            return 66;
        }

        using var session = new ShellSession();
        string program = session.Stage(file);
        var cases = new List<(string Name, bool Cleanup)>();
        var list = Phase(session, program, config, session.Root, "_atf_list");
        if (list.Status != 0)
        {
            error.WriteLine($"vimage atf run: {file}: cannot list the test cases (exit {list.Status}):\n{list.Err}");
            return 1;
        }

        foreach (string line in list.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] words = line.Split(' ');
            cases.Add((words[0], words.Length > 1 && words[1] == "cleanup"));
        }

        foreach (string name in wanted)
        {
            if (!cases.Exists(c => c.Name == name))
            {
                error.WriteLine($"vimage atf run: {file}: no test case named {name}");
                return 1;
            }
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        string label = Path.GetFileNameWithoutExtension(file);
        foreach (var (name, cleanup) in cases)
        {
            if (wanted.Count > 0 && !wanted.Contains(name))
            {
                continue;
            }

            var clock = Stopwatch.StartNew();
            string result = RunCase(session, program, config, name, cleanup);
            string kind = result.Split(':', 2)[0];
            counts[kind] = counts.GetValueOrDefault(kind) + 1;
            output.WriteLine($"{label}:{name}  ->  {result}  [{clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture)}s]");
        }

        int total = counts.Values.Sum();
        int failed = counts.GetValueOrDefault("failed") + counts.GetValueOrDefault("broken");
        output.WriteLine();
        output.WriteLine($"{total - failed}/{total} passed ({counts.GetValueOrDefault("passed")} passed, {counts.GetValueOrDefault("skipped")} skipped, " +
                         $"{counts.GetValueOrDefault("expected_failure")} expected failures, {counts.GetValueOrDefault("broken")} broken, " +
                         $"{counts.GetValueOrDefault("failed")} failed)");
        return failed == 0 ? 0 : 1;
    }

    private string RunCase(ShellSession session, string program, Dictionary<string, string> config, string name, bool cleanup)
    {
        string work = Path.Combine(session.Root, "cases", name); // each case its own scratch directory
        Directory.CreateDirectory(work);
        string vars = Path.Combine(work, "vars");
        string resfile = Path.Combine(work, "result");
        var head = Phase(session, program, config, work, "_atf_run", name, "head", vars);
        if (head.Status != 0)
        {
            return $"broken: Test case head failed (exit {head.Status}): {head.Err.Trim()}";
        }

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadAllLines(vars))
        {
            int eq = line.IndexOf('=');
            if (eq > 0)
            {
                variables[line[..eq]] = line[(eq + 1)..];
            }
        }

        if (Requirements(session, variables, config) is { } skip)
        {
            return "skipped: " + skip;
        }

        string body = Path.Combine(work, "work");
        Directory.CreateDirectory(body);
        var run = Phase(session, program, config, body, "_atf_run", name, "body", resfile);
        output.Write(run.Out);
        error.Write(run.Err);
        string result = File.Exists(resfile) ? File.ReadAllText(resfile).Trim() : "";
        if (result.Length == 0)
        {
            result = $"broken: Premature exit (exit {run.Status}) without a result";
        }
        else if (result.StartsWith("failed", StringComparison.Ordinal) && run.Status == 0)
        {
            result = "broken: the body reported failure but exited 0";
        }

        if (cleanup)
        {
            var done = Phase(session, program, config, body, "_atf_run", name, "cleanup", resfile + ".cleanup");
            output.Write(done.Out);
            error.Write(done.Err);
            if (done.Status != 0 && result == "passed")
            {
                result = $"broken: Test case cleanup did not terminate successfully (exit {done.Status})";
            }
        }

        return result;
    }

    /// <summary>kyua's checks of the head's require.* variables; the reason to skip, or null.</summary>
    private static string? Requirements(ShellSession session, Dictionary<string, string> variables, Dictionary<string, string> config)
    {
        // require.user root: Vimage's stacks need no privilege, so root (the jail creator) is what every script is.
        if (variables.TryGetValue("require.user", out string? user) && user == "unprivileged")
        {
            return "Requires an unprivileged user (vimage runs scripts as the stacks' root)";
        }

        if (variables.TryGetValue("require.config", out string? needed))
        {
            foreach (string name in needed.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!config.ContainsKey(name))
                {
                    return $"Required configuration property '{name}' not defined";
                }
            }
        }

        if (variables.TryGetValue("require.progs", out string? progs))
        {
            string path = session.ShimDirectory + ":" + (Environment.GetEnvironmentVariable("PATH") ?? "");
            foreach (string prog in progs.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                bool found = Path.IsPathRooted(prog)
                    ? File.Exists(prog)
                    : path.Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, prog)));
                if (!found)
                {
                    return $"Required program '{prog}' not found in PATH";
                }
            }
        }

        return null;
    }

    private static (int Status, string Out, string Err) Phase(ShellSession session, string program, Dictionary<string, string> config, string directory,
        params string[] call)
    {
        var start = session.Shell(["-c", ". \"$VIMAGE_ATF_LIB\"; . \"$0\"; \"$@\"", program, .. call]);
        start.WorkingDirectory = directory;
        start.Environment["ATF_SRCDIR"] = Path.GetDirectoryName(program);
        start.Environment["TMPDIR"] = directory;
        if (call.Length >= 4 && call[2] is "body" or "cleanup")
        {
            start.Environment["ATF_RESFILE"] = call[3];
        }

        foreach (var (name, value) in config)
        {
            string mangled = new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_').ToArray());
            start.Environment["_atf_cfg_" + mangled] = value;
            start.Environment["_atf_cfgset_" + mangled] = "1";
        }

        var output = new StringWriter();
        var error = new StringWriter();
        int status = ShellSession.Execute(start, output, error);
        return (status, output.ToString(), error.ToString());
    }
}
