using System.Diagnostics;
using System.Security.Cryptography;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>
/// Issue 15's criterion, the way a user types it: <c>vimage jexec b nc -l 7000 &gt; out &amp;</c> then
/// <c>vimage jexec a nc -N 192.0.2.2 7000 &lt; file</c>, each a real <c>vimage</c> client process (dotnet vimage.dll)
/// under bash with the file on its stdin and stdout, 100 MB with identical sha256: between two jails (without VIMAGE,
/// over vnet0's lo0), and between a jail and Linux's nc (netcat-openbsd) in a network namespace of the test's joined by
/// a TAP device, both ways.
/// </summary>
public sealed class NcTransferTests : IDisposable
{
    private const int Size = 100_000_000;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vimage-nc-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<IDisposable> _cleanup = [];

    public NcTransferTests()
    {
        Directory.CreateDirectory(_dir);
    }

    [Fact]
    public void Nc_moves_100_MB_between_two_jails_with_identical_sha256()
    {
        var host = Own(new LaunchedHost());
        string server = "127.0.0.1", jailA = "", jailB = "";
        if (Vnet.IsVimage)
        {
            string a = Ok(host, "ifconfig", "epair", "create").Trim();
            string b = a[..^1] + "b";
            Ok(host, "jail", "-c", "name=a", "vnet", "vnet.interface=" + a);
            Ok(host, "jail", "-c", "name=b", "vnet", "vnet.interface=" + b);
            Ok(host, "jexec", "a", "ifconfig", a, "inet", "192.0.2.1/24", "up");
            Ok(host, "jexec", "b", "ifconfig", b, "inet", "192.0.2.2/24", "up");
            (server, jailA, jailB) = ("192.0.2.2", "jexec a ", "jexec b ");
        }

        string sent = WriteRandomFile("file", 15);
        using Process listener = Shell(host, $"vimage {jailB}nc -l {server} 7000 > out < /dev/null");
        WaitBound(host, jailB, 7000, listener);
        Finish(Shell(host, $"vimage {jailA}nc -N {server} 7000 < file"), "the sending nc");
        Finish(listener, "the listening nc");
        Assert.Equal(sent, Sha256("out"));
    }

    [SkippableFact]
    public void Nc_moves_100_MB_from_a_jail_to_Linux_nc_over_TAP()
    {
        (LaunchedHost host, string ns, string jail) = TapPair();
        string sent = WriteRandomFile("file", 16);
        using Process linux = Linux(ns, "exec nc -l 192.0.2.2 7000 < /dev/null > out");
        if (!HostProcesses.WaitFor(() => LinuxListens(ns, 7000) || linux.HasExited, TimeSpan.FromSeconds(10)) || linux.HasExited)
        {
            linux.Kill();
            Assert.Fail("Linux nc did not listen: " + linux.StandardError.ReadToEnd());
        }

        Finish(Shell(host, $"vimage {jail}nc -v -N 192.0.2.2 7000 < file"), "the jail's nc");
        Finish(linux, "Linux nc");
        Assert.Equal(sent, Sha256("out"));
    }

    [SkippableFact]
    public void Nc_moves_100_MB_from_Linux_nc_to_a_jail_over_TAP()
    {
        (LaunchedHost host, string ns, string jail) = TapPair();
        string sent = WriteRandomFile("file", 17);
        using Process listener = Shell(host, $"vimage {jail}nc -l 7001 > out < /dev/null");
        WaitBound(host, jail, 7001, listener);
        Finish(Linux(ns, "exec nc -N 192.0.2.1 7001 < file"), "Linux nc");
        Finish(listener, "the jail's nc");
        Assert.Equal(sent, Sha256("out"));
    }

    public void Dispose()
    {
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            _cleanup[i].Dispose();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// A host running in a fresh network namespace (so its TAP device, vtap0, appears there), the Linux side of the
    /// TAP at 192.0.2.2/24 in it, and the vimage side (tap0) at 192.0.2.1/24: in jail "a" with VIMAGE, else in vnet0.
    /// </summary>
    private (LaunchedHost Host, string Ns, string Jail) TapPair()
    {
        Skip.IfNot(Environment.UserName == "root", "needs root for a network namespace and a TAP device");
        Skip.IfNot(File.Exists("/dev/net/tun"), "no /dev/net/tun");
        Skip.If(Which("ip") is null || Which("nc") is null, "needs ip (iproute2) and nc (netcat-openbsd): scripts/setup.sh installs them");
        string ns = "vimage-nc-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, Run("ip", "netns", "add", ns).Exit);
        _cleanup.Add(new Cleanup(() => Run("ip", "netns", "del", ns)));
        var host = Own(new LaunchedHost(wrapper: ["ip", "netns", "exec", ns]));
        string tap = Ok(host, "ifconfig", "tap", "create").Trim();
        Assert.Equal("tap0", tap);
        string jail = "";
        if (Vnet.IsVimage)
        {
            Ok(host, "jail", "-c", "name=a", "vnet", "vnet.interface=" + tap);
            jail = "jexec a ";
        }

        Ok(host, [.. jail.Split(' ', StringSplitOptions.RemoveEmptyEntries), "ifconfig", tap, "inet", "192.0.2.1/24", "up"]);
        foreach (string[] command in (string[][])[["ip", "addr", "add", "192.0.2.2/24", "dev", "vtap0"], ["ip", "link", "set", "vtap0", "up"], ["ip", "link", "set", "lo", "up"]])
        {
            var r = Run("ip", ["netns", "exec", ns, .. command]);
            Assert.True(r.Exit == 0, string.Join(' ', command) + ": " + r.Err);
        }

        return (host, ns, jail);
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _cleanup.Add(disposable);
        return disposable;
    }

    private static string Ok(LaunchedHost host, params string[] argv)
    {
        var (exit, output, error) = HostProcesses.Exec(host.SocketPath, argv);
        Assert.True(exit == 0, $"{string.Join(' ', argv)}: exit {exit}: {error}");
        return output;
    }

    /// <summary>bash -c SCRIPT in the test's directory, where <c>vimage</c> is the user's client (dotnet vimage.dll) for this host.</summary>
    private Process Shell(LaunchedHost host, string script)
    {
        var start = new ProcessStartInfo("bash", ["-c", "vimage() { \"$VIMAGE_DOTNET\" \"$VIMAGE_DLL\" \"$@\"; }; " + script])
        {
            WorkingDirectory = _dir,
            RedirectStandardError = true,
        };
        start.Environment["VIMAGE_DOTNET"] = HostProcesses.Dotnet;
        start.Environment["VIMAGE_DLL"] = HostProcesses.VimageDll;
        foreach ((string key, string? value) in host.Env)
        {
            start.Environment[key] = value;
        }

        return Process.Start(start)!;
    }

    private Process Linux(string ns, string script)
    {
        var start = new ProcessStartInfo("ip", ["netns", "exec", ns, "bash", "-c", script]) { WorkingDirectory = _dir, RedirectStandardError = true };
        return Process.Start(start)!;
    }

    /// <summary>Waits for the process (60 s at most, then killed and failed) and requires exit 0.</summary>
    private static void Finish(Process process, string what)
    {
        using (process)
        {
            Task<string> errors = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Limit))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{what} did not finish in {Limit.TotalSeconds} s: {errors.Result}");
            }

            Assert.True(process.ExitCode == 0, $"{what} exited {process.ExitCode}: {errors.Result}");
        }
    }

    private static void WaitBound(LaunchedHost host, string jail, int port, Process listener)
    {
        string[] sockstat = [.. jail.Split(' ', StringSplitOptions.RemoveEmptyEntries), "sockstat", "-4", "-l", "-q", "-p", port.ToString()];
        bool bound = HostProcesses.WaitFor(() => listener.HasExited || HostProcesses.Exec(host.SocketPath, sockstat).Out.Contains($":{port} "), TimeSpan.FromSeconds(20));
        Assert.True(bound && !listener.HasExited, $"nobody listens on {port}:\n{host.Log}");
    }

    private static bool LinuxListens(string ns, int port) => Run("ip", "netns", "exec", ns, "ss", "-Hltn", $"sport = :{port}").Out.Contains(':' + port.ToString());

    private string WriteRandomFile(string name, int seed)
    {
        var data = new byte[Size];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_dir, name), data);
        return Convert.ToHexString(SHA256.HashData(data));
    }

    private string Sha256(string name)
    {
        using FileStream file = File.OpenRead(Path.Combine(_dir, name));
        Assert.Equal(Size, file.Length);
        return Convert.ToHexString(SHA256.HashData(file));
    }

    private static (int Exit, string Out, string Err) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        return HostProcesses.Run(start);
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private sealed class Cleanup(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
