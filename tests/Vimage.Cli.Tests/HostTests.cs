using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>Runs vimage.dll (copied next to the tests) as separate processes: hosts and clients.</summary>
internal static partial class HostProcesses
{
    public static readonly string VimageDll = Path.Combine(AppContext.BaseDirectory, "vimage.dll");

    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IDictionary<string, string?>? env = null)
    {
        var start = new ProcessStartInfo(Dotnet)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(VimageDll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("VIMAGE_SOCKET");
        start.Environment.Remove("VIMAGE_NO_AUTOSTART");
        if (env is not null)
        {
            foreach ((string key, string? value) in env)
            {
                start.Environment[key] = value;
            }
        }

        return start;
    }

    public static (int Exit, string Out, string Err) Run(IDictionary<string, string?> env, params string[] args) => Run(StartInfo(args, env));

    /// <summary>Runs the process to completion (30 s at most): its exit status, stdout and stderr.</summary>
    public static (int Exit, string Out, string Err) Run(ProcessStartInfo start)
    {
        using Process process = Process.Start(start)!;
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not finish in 30 s");
        }

        return (process.ExitCode, output.Result, error.Result);
    }

    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition())
            {
                return true;
            }

            Thread.Sleep(25);
        }

        return condition();
    }

    public static bool Listening(string path)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static void TryKill(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>Speaks the protocol directly (no client process): sends bytes, collects frames until exit or end of stream.</summary>
    public static (int? Exit, string Out, string Err, string? Error) Exchange(string socketPath, byte[] bytes, bool halfClose = false, Action<string>? onErr = null)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        socket.ReceiveTimeout = 20_000;
        using var stream = new NetworkStream(socket);
        stream.Write(bytes);
        if (halfClose)
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        var output = new StringBuilder();
        var errors = new StringBuilder();
        string? error = null;
        while (true)
        {
            var header = new byte[4];
            if (!ReadAll(stream, header))
            {
                return (null, output.ToString(), errors.ToString(), error);
            }

            var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
            Assert.True(ReadAll(stream, payload));
            using JsonDocument doc = JsonDocument.Parse(payload);
            JsonElement frame = doc.RootElement;
            Assert.Single(frame.EnumerateObject());
            if (frame.TryGetProperty("out", out JsonElement text))
            {
                output.Append(text.GetString());
            }

            if (frame.TryGetProperty("err", out JsonElement errText))
            {
                errors.Append(errText.GetString());
                onErr?.Invoke(errors.ToString());
            }

            if (frame.TryGetProperty("error", out JsonElement message))
            {
                error = message.GetString();
            }

            if (frame.TryGetProperty("exit", out JsonElement exit))
            {
                return (exit.GetInt32(), output.ToString(), errors.ToString(), error);
            }
        }
    }

    /// <summary>One command over the protocol, in-process: what a client process would print and return.</summary>
    public static (int Exit, string Out, string Err) Exec(string socketPath, params string[] argv) => Exec(socketPath, null, argv);

    /// <summary>As <see cref="Exec(string, string[])"/>; <paramref name="onErr"/> sees the stderr so far at each frame, while the command runs.</summary>
    public static (int Exit, string Out, string Err) Exec(string socketPath, Action<string>? onErr, params string[] argv)
    {
        string json = JsonSerializer.Serialize(argv, HostTestJson.Default.StringArray);
        var (exit, output, errors, error) = Exchange(socketPath, Frame(Encoding.UTF8.GetBytes($"{{\"argv\": {json}}}")), onErr: onErr);
        Assert.Null(error);
        Assert.NotNull(exit);
        return (exit.Value, output, errors);
    }

    public static byte[] Frame(byte[] payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, 4);
        return frame;
    }

    private static bool ReadAll(Stream stream, byte[] buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = stream.Read(buffer, got, buffer.Length - got);
            if (n == 0)
            {
                return false;
            }

            got += n;
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int SendSignal(int pid, int signal);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class HostTestJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>A `vimage host --foreground` process on a socket in a fresh temporary directory; killed on Dispose.</summary>
public sealed class HostProcess : IDisposable
{
    private readonly LaunchedHost _host = new(); // run/ does not exist yet: the host creates it 0700

    public string Root => _host.Root;

    public string SocketPath => _host.SocketPath;

    public Process Process => _host.Process;

    public Dictionary<string, string?> Env => _host.Env;

    public string Log => _host.Log;

    /// <summary>A raw connection to the host.</summary>
    public Socket Connect() => _host.Connect();

    /// <summary>A client process: dotnet vimage.dll ARGS.</summary>
    public (int Exit, string Out, string Err) Run(params string[] args) => HostProcesses.Run(Env, args);

    /// <summary>The same request in-process over the socket (fast: no process start).</summary>
    public (int Exit, string Out, string Err) Exec(params string[] argv) => HostProcesses.Exec(SocketPath, argv);

    public (int Exit, string Out, string Err) Exec(Action<string> onErr, params string[] argv) => HostProcesses.Exec(SocketPath, onErr, argv);

    public void Dispose() => _host.Dispose();
}

/// <summary>Host and client as real processes: commands over the socket, concurrency, failures, security, lifecycle.</summary>
public sealed class HostTests(HostProcess host) : IClassFixture<HostProcess>
{
    private static readonly bool IsVimage = Vnet.IsVimage;

    [Fact]
    public void Commands_run_in_the_host_and_state_persists_between_clients()
    {
        var epair = host.Run("ifconfig", "epair", "create");
        Assert.True(epair.Exit == 0, epair.Err + host.Log);
        string a = epair.Out.Trim();
        Assert.Matches("^epair[0-9]+a$", a);
        string b = a[..^1] + "b";

        var list = host.Exec("ifconfig", "-l");
        Assert.Equal(0, list.Exit);
        Assert.Contains(a, list.Out);
        Assert.Contains(b, list.Out);

        var ttl = host.Run("sysctl", "-n", "net.inet.ip.ttl");
        Assert.Equal((0, "64\n", ""), ttl);

        string jail = "hj" + a["epair".Length..^1];
        var created = host.Run("jail", "-c", $"name={jail}", "vnet", $"vnet.interface={b}");
        if (!IsVimage)
        {
            Assert.Equal(1, created.Exit);
            Assert.Contains("need VIMAGE", created.Err);
            var jexec = host.Exec("jexec", jail, "ifconfig");
            Assert.Equal(1, jexec.Exit);
            Assert.Contains("not found", jexec.Err);
            return;
        }

        Assert.True(created.Exit == 0, created.Err);
        Assert.Contains($"{jail}: created", created.Out);

        var inside = host.Run("jexec", jail, "ifconfig");
        Assert.True(inside.Exit == 0, inside.Err);
        Assert.Contains(b + ":", inside.Out);
        Assert.DoesNotContain(a + ":", inside.Out);

        var jailTtl = host.Exec("jexec", jail, "sysctl", "net.inet.ip.ttl=32");
        Assert.True(jailTtl.Exit == 0, jailTtl.Err);
        Assert.Equal("64\n", host.Exec("sysctl", "-n", "net.inet.ip.ttl").Out); // vnet0 untouched
        Assert.Equal("32\n", host.Exec("jexec", jail, "sysctl", "-n", "net.inet.ip.ttl").Out);

        var removed = host.Exec("jail", "-r", jail);
        Assert.True(removed.Exit == 0, removed.Err);
        Assert.Contains(b + ":", host.Exec("ifconfig").Out); // the loaned end came home
    }

    [Fact]
    public void Exit_statuses_and_stderr_come_through()
    {
        var bad = host.Run("sysctl", "-q");
        Assert.Equal(1, bad.Exit); // sysctl's usage() exits 1
        Assert.Contains("usage: sysctl", bad.Err);
        Assert.Equal("", bad.Out);

        var missing = host.Exec("sysctl", "net.no.such.thing");
        Assert.NotEqual(0, missing.Exit);
        Assert.NotEqual("", missing.Err);

        var noJail = host.Exec("jexec", "nosuchjail", "ifconfig");
        Assert.Equal(1, noJail.Exit);
        Assert.Contains("nosuchjail", noJail.Err);
    }

    [Fact]
    public async Task Two_clients_at_once()
    {
        Task<(int Exit, string Out, string Err)> first = Task.Run(() => host.Run("sysctl", "-a"));
        Task<(int Exit, string Out, string Err)> second = Task.Run(() => host.Run("ifconfig", "-a"));
        var (sysctl, ifconfig) = (await first, await second);
        Assert.True(sysctl.Exit == 0, sysctl.Err);
        Assert.Contains("net.inet.ip.ttl: ", sysctl.Out);
        Assert.True(ifconfig.Exit == 0, ifconfig.Err);
        Assert.Contains("flags=", ifconfig.Out);
    }

    [Fact]
    public void A_client_killed_mid_command_cancels_it_and_the_host_carries_on()
    {
        // A ping nobody answers: an address on a down link, 100 probes 0.2 s apart (20 s unless cancelled).
        var epair = host.Exec("ifconfig", "epair", "create");
        Assert.Equal(0, epair.Exit);
        string a = epair.Out.Trim();
        int n = int.Parse(a["epair".Length..^1]);
        string net = $"198.18.{n % 250}";
        Assert.Equal(0, host.Exec("ifconfig", a, "inet", $"{net}.1/24", "up").Exit);

        using Process client = Process.Start(HostProcesses.StartInfo(["ping", "-c", "100", "-i", "0.2", $"{net}.99"], host.Env))!;
        client.StandardInput.Close();
        string? first = client.StandardOutput.ReadLine(); // streamed before the command ends
        Assert.NotNull(first);
        Assert.StartsWith("PING", first);
        Assert.False(client.HasExited);
        client.Kill(entireProcessTree: true);
        client.WaitForExit(5000);

        // The host notices at once: only the status request's own connection is left.
        Assert.True(HostProcesses.WaitFor(() => Status().Contains(" 1 connection(s)"), TimeSpan.FromSeconds(5)), host.Log);
        // The ping ended early, not after 20 s. The host's log reaches us through its stderr pipe, which may lag the
        // status request: wait for the line rather than read it once.
        Assert.True(HostProcesses.WaitFor(() => System.Text.RegularExpressions.Regex.IsMatch(host.Log, @"exit \d+ in \d+ ms \(client gone\)"), TimeSpan.FromSeconds(5)), host.Log);
        Assert.Equal((0, "64\n", ""), host.Exec("sysctl", "-n", "net.inet.ip.ttl"));
        Assert.False(host.Process.HasExited);
    }

    [Fact]
    public void Malformed_requests_get_an_error_and_the_host_survives()
    {
        // Garbage: "this" read as a length is far over the limit.
        var garbage = RawExchange(Encoding.ASCII.GetBytes("this is not a frame\r\n\r\n"));
        Assert.Contains("exceeds", garbage.Error);
        Assert.Equal(76, garbage.Exit);

        var oversized = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(oversized, (1 << 20) + 1);
        var big = RawExchange(oversized);
        Assert.Contains("exceeds", big.Error);
        Assert.Equal(76, big.Exit);

        var json = RawExchange(Frame("{\"argv\": [\"ifconfig\""));
        Assert.Contains("bad request", json.Error);
        Assert.Equal(76, json.Exit);

        var notUtf8 = RawExchange(Frame([0xff, 0xfe, 0x00, 0x80]));
        Assert.Contains("bad request", notUtf8.Error);

        var empty = RawExchange(Frame("{\"argv\": []}"));
        Assert.Contains("argv", empty.Error);
        Assert.Equal(76, empty.Exit);

        var nulls = RawExchange(Frame("{\"argv\": [null]}"));
        Assert.Contains("argv", nulls.Error);

        var wrongType = RawExchange(Frame("{\"argv\": \"ifconfig\"}"));
        Assert.Contains("bad request", wrongType.Error);

        var truncated = RawExchange([0, 0, 0, 100, (byte)'{'], halfClose: true);
        Assert.Contains("truncated", truncated.Error);

        var ok = RawExchange(Frame("{\"argv\": [\"sysctl\", \"-n\", \"net.inet.ip.ttl\"], \"cwd\": \"/\", \"env\": {\"A\": \"b\"}}"));
        Assert.Equal((0, "64\n", null), (ok.Exit, ok.Out, ok.Error));

        Assert.Equal((0, "64\n", ""), host.Exec("sysctl", "-n", "net.inet.ip.ttl"));
        Assert.False(host.Process.HasExited);
    }

    [Fact]
    public void Socket_is_0600_in_a_0700_directory()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(host.SocketPath));
        Assert.Equal(rwx, File.GetUnixFileMode(Path.GetDirectoryName(host.SocketPath)!));
    }

    [Fact]
    public void A_second_host_on_the_same_socket_refuses()
    {
        var second = HostProcesses.Run(host.Env, "host", "--foreground", "--socket", host.SocketPath);
        Assert.Equal(69, second.Exit);
        Assert.Contains("already running", second.Err);
        Assert.Equal((0, "64\n", ""), host.Exec("sysctl", "-n", "net.inet.ip.ttl"));
    }

    private string Status() => RawExchange(Frame("{\"op\": \"status\"}")).Out;

    private (int? Exit, string Out, string? Error) RawExchange(byte[] bytes, bool halfClose = false)
    {
        var (exit, output, _, error) = HostProcesses.Exchange(host.SocketPath, bytes, halfClose);
        return (exit, output, error);
    }

    private static byte[] Frame(string json) => HostProcesses.Frame(Encoding.UTF8.GetBytes(json));

    private static byte[] Frame(byte[] payload) => HostProcesses.Frame(payload);
}

/// <summary>Starting and stopping hosts: on demand, refusal without one, --stop, SIGTERM; the command line itself.</summary>
public sealed class HostLifecycleTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vimage-host-life-" + Guid.NewGuid().ToString("N")[..12]);

    public HostLifecycleTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void Without_a_host_and_with_autostart_off_the_client_says_so()
    {
        string path = Path.Combine(_root, "none", "h.sock");
        var result = HostProcesses.Run(new Dictionary<string, string?> { ["VIMAGE_SOCKET"] = path, ["VIMAGE_NO_AUTOSTART"] = "1" }, "ifconfig", "-a");
        Assert.Equal(69, result.Exit);
        Assert.Equal($"vimage: no host running at {path} (start one with: vimage host)\n", result.Err);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void The_client_starts_a_host_on_demand_and_host_stop_ends_it()
    {
        string path = Path.Combine(_root, "auto", "h.sock");
        var env = new Dictionary<string, string?> { ["VIMAGE_SOCKET"] = path };
        int pid = 0;
        try
        {
            var first = HostProcesses.Run(env, "sysctl", "-n", "net.inet.ip.ttl");
            Assert.True(first.Exit == 0, first.Err);
            Assert.Equal("64\n", first.Out);
            Assert.True(HostProcesses.Listening(path));

            var status = HostProcesses.Exchange(path, HostProcesses.Frame("{\"op\": \"status\"}"u8.ToArray()));
            Assert.Equal(0, status.Exit);
            var match = System.Text.RegularExpressions.Regex.Match(status.Out, @"pid (\d+)");
            Assert.True(match.Success, status.Out);
            pid = int.Parse(match.Groups[1].Value);

            // The same host answers the next client: state persists.
            var epair = HostProcesses.Exec(path, "ifconfig", "epair", "create");
            Assert.Equal((0, "epair0a\n"), (epair.Exit, epair.Out));
            Assert.Contains("epair0b", HostProcesses.Exec(path, "ifconfig", "-l").Out);

            var stop = HostProcesses.Run(env, "host", "--stop");
            Assert.Equal(0, stop.Exit);
            Assert.True(HostProcesses.WaitFor(() => !File.Exists(path), TimeSpan.FromSeconds(10)), "socket left behind");
            Assert.True(HostProcesses.WaitFor(() => !Alive(pid), TimeSpan.FromSeconds(10)), "host still running");

            var after = HostProcesses.Run(env, "host", "--stop");
            Assert.Equal(69, after.Exit);
        }
        finally
        {
            if (pid != 0)
            {
                HostProcesses.TryKill(pid);
            }
        }
    }

    [Fact]
    public async Task Sigterm_stops_the_host_cleanly_and_a_stale_socket_is_replaced()
    {
        string path = Path.Combine(_root, "term", "h.sock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        // A host killed with SIGKILL leaves a stale socket file (and its lock file) behind.
        using (Process killed = Process.Start(HostProcesses.StartInfo(["host", "--foreground", "--socket", path]))!)
        {
            try
            {
                Assert.True(HostProcesses.WaitFor(() => HostProcesses.Listening(path), TimeSpan.FromSeconds(15)), "first host did not start");
            }
            finally
            {
                killed.Kill(entireProcessTree: true);
                killed.WaitForExit(5000);
            }
        }

        Assert.True(File.Exists(path));
        Assert.False(HostProcesses.Listening(path));
        using Process host = Process.Start(HostProcesses.StartInfo(["host", "--foreground", "--socket", path]))!;
        try
        {
            host.StandardInput.Close();
            Task<string> log = host.StandardError.ReadToEndAsync();
            Assert.True(HostProcesses.WaitFor(() => HostProcesses.Listening(path), TimeSpan.FromSeconds(15)), "host did not start");
            Assert.Equal(0, HostProcesses.Exec(path, "ifconfig", "-a").Exit);

            Assert.Equal(0, HostProcesses.SendSignal(host.Id, 15)); // SIGTERM
            Assert.True(host.WaitForExit(10_000), "host ignored SIGTERM");
            Assert.Equal(0, host.ExitCode);
            Assert.False(File.Exists(path));
            Assert.Contains("stopped", await log);
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public void Unknown_commands_are_usage_errors_and_help_lists_the_commands()
    {
        var env = new Dictionary<string, string?> { ["VIMAGE_NO_AUTOSTART"] = "1", ["VIMAGE_SOCKET"] = Path.Combine(_root, "x.sock") };
        var unknown = HostProcesses.Run(env, "frobnicate", "-x");
        Assert.Equal(64, unknown.Exit);
        Assert.Contains("usage: vimage", unknown.Err);

        var help = HostProcesses.Run(env, "--help");
        Assert.Equal(0, help.Exit);
        foreach (string command in new[] { "host", "demo", "run", "ifconfig", "jail", "jexec", "sysctl", "ping" })
        {
            Assert.Contains("  " + command, help.Out);
        }

        var run = HostProcesses.Run(env, "run", Path.Combine(_root, "nothing.scenario")); // reaches the scenario runner
        Assert.NotEqual(0, run.Exit);
        Assert.Contains("nothing.scenario", run.Err);
    }

    private static bool Alive(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
