using System.Diagnostics;
using Vimage.Cli.Commands;
using Vimage.Net.Tap;

namespace Vimage.Cli.Lab;

/// <summary>
/// A lab's <c>host</c> node: a Linux network namespace (<c>ip netns add vimage-LAB-NODE</c>) whose interfaces are TAP
/// devices whose other side is an interface of a vnet node. Programs run in it with <c>ip netns exec</c>, on the
/// Linux kernel's own stack. Needs root (CAP_SYS_ADMIN for namespaces, CAP_NET_ADMIN for TAPs).
/// </summary>
public sealed class HostNode
{
    private readonly List<Process> _background = [];

    private HostNode(string node, string netns)
    {
        Node = node;
        Netns = netns;
    }

    public string Node { get; }

    /// <summary>The namespace's name under /var/run/netns.</summary>
    public string Netns { get; }

    /// <summary>True once the namespace no longer exists (deleted behind the lab's back).</summary>
    public bool IsGone => !File.Exists(NetNamespace.PathOf(Netns));

    public static string NamespaceFor(string lab, string node) => $"vimage-{lab}-{node}";

    /// <summary>Test hook: when set, host nodes are refused with this reason (as on a machine without root).</summary>
    internal static string? UnsupportedOverride { get; set; }

    /// <summary>Why host nodes cannot be made here, or null.</summary>
    public static string? UnsupportedReason()
    {
        if (UnsupportedOverride is { } forced)
        {
            return forced;
        }

        if (!OperatingSystem.IsLinux())
        {
            return "host nodes need Linux";
        }

        if (Environment.IsPrivilegedProcess is false)
        {
            return "host nodes need root (creating network namespaces and TAP devices needs CAP_SYS_ADMIN and CAP_NET_ADMIN)";
        }

        if (!TapDevice.IsSupported)
        {
            return $"TAP devices are not usable here: {TapDevice.UnsupportedReason}";
        }

        if (FindProgram("ip") is null)
        {
            return "host nodes need the 'ip' command (iproute2)";
        }

        return null;
    }

    /// <summary>ip netns add; the namespace's loopback up. The caller tears it down with <see cref="Destroy"/>.</summary>
    public static HostNode Create(string lab, string node)
    {
        var host = new HostNode(node, NamespaceFor(lab, node));
        host.Ip("netns", "add", host.Netns);
        try
        {
            host.Ip("-n", host.Netns, "link", "set", "lo", "up");
        }
        catch
        {
            host.Destroy();
            throw;
        }

        return host;
    }

    /// <summary>Runs <c>ip ARGS</c>; a failure throws with ip's message, naming the node.</summary>
    public void Ip(params string[] args)
    {
        (int exit, string output) = RunCaptured("ip", args);
        if (exit != 0)
        {
            throw new CommandException($"lab: host node {Node}: ip {string.Join(' ', args)}: {output.Trim()}");
        }
    }

    /// <summary>A start-up command: <c>sh -c LINE</c> in the namespace; a line ending in '&amp;' keeps running in the background.</summary>
    public void RunStartup(string line, TextWriter output)
    {
        string trimmed = line.TrimEnd();
        if (trimmed.EndsWith('&') && !trimmed.EndsWith("&&", StringComparison.Ordinal))
        {
            var psi = NetnsExec(["sh", "-c", trimmed[..^1]]);
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            Process p = Process.Start(psi) ?? throw new CommandException($"lab: host node {Node}: cannot start '{line}'");
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            lock (_background)
            {
                _background.Add(p);
            }

            return;
        }

        (int exit, string text) = RunCaptured("ip", ["netns", "exec", Netns, "sh", "-c", line]);
        output.Write(text);
        if (exit != 0)
        {
            throw new CommandException($"lab: host node {Node}: exec '{line}' failed (exit {exit}): {text.Trim()}");
        }
    }

    /// <summary>jexec NODE argv: the program runs in the namespace, its output streamed to the client; exit status passed on.</summary>
    public int Exec(CommandContext context, string[] argv)
    {
        if (argv.Length == 0)
        {
            throw new UsageException("jexec: jail and command are required");
        }

        ProcessStartInfo psi = NetnsExec(argv);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        using Process p = Process.Start(psi) ?? throw new CommandException($"jexec: {argv[0]}: cannot start");
        p.StandardInput.Close();
        object gate = new();
        Task copyOut = Copy(p.StandardOutput, context.Out, gate);
        Task copyErr = Copy(p.StandardError, context.Err, gate);
        try
        {
            p.WaitForExitAsync(context.Cancel).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Task.WaitAll(copyOut, copyErr);
            return 137;
        }

        Task.WaitAll(copyOut, copyErr);
        return p.ExitCode;
    }

    private static async Task Copy(StreamReader from, TextWriter to, object gate)
    {
        var buffer = new char[4096];
        int n;
        while ((n = await from.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (gate)
            {
                to.Write(buffer, 0, n);
                to.Flush();
            }
        }
    }

    /// <summary>Stops what runs in the namespace and deletes it (its TAP ends go with it). Never throws.</summary>
    public void Destroy()
    {
        lock (_background)
        {
            foreach (Process p in _background)
            {
                try
                {
                    if (!p.HasExited)
                    {
                        p.Kill(entireProcessTree: true);
                        p.WaitForExit(2000);
                    }
                }
                catch (InvalidOperationException)
                {
                }

                p.Dispose();
            }

            _background.Clear();
        }

        // whatever else was started in it (jexec NODE nginx &): ip netns pids lists them
        (int exit, string pids) = RunCaptured("ip", ["netns", "pids", Netns]);
        if (exit == 0)
        {
            foreach (string pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(pid, out int id))
                {
                    try
                    {
                        using Process p = Process.GetProcessById(id);
                        p.Kill(entireProcessTree: true);
                        p.WaitForExit(2000);
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                    {
                    }
                }
            }
        }

        if (!IsGone)
        {
            _ = RunCaptured("ip", ["netns", "del", Netns]);
        }
    }

    private ProcessStartInfo NetnsExec(string[] argv)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false };
        psi.ArgumentList.Add("netns");
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(Netns);
        foreach (string a in argv)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>Runs a program to its end (at most 60 s); stdout and stderr together.</summary>
    internal static (int Exit, string Output) RunCaptured(string file, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
            p.StandardInput.Close();
            Task<string> stdout = p.StandardOutput.ReadToEndAsync();
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(60_000))
            {
                p.Kill(entireProcessTree: true);
                return (124, $"{file} timed out");
            }

            return (p.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, $"{file}: {e.Message}");
        }
    }

    private static string? FindProgram(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
