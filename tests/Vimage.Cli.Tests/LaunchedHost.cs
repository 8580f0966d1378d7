using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Vimage.Cli.Tests;

/// <summary>
/// A `vimage host --foreground` process with extra options, optionally under a descriptor limit
/// (bash -c 'ulimit -n N; exec ...'); its log is collected, and it is killed and its directory removed on Dispose.
/// </summary>
internal sealed class LaunchedHost : IDisposable
{
    private readonly StringBuilder _log = new();

    /// <param name="wrapper">A command the host runs under (<c>ip netns exec NS</c>: its TAP devices appear in NS).</param>
    public LaunchedHost(string[]? options = null, int? descriptorLimit = null, string[]? wrapper = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "vimage-host-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        SocketPath = Path.Combine(Root, "run", "h.sock");
        ProcessStartInfo start = HostProcesses.StartInfo(["host", "--foreground", "--socket", SocketPath, .. options ?? []]);
        if (descriptorLimit is { } limit)
        {
            Prefix(start, "bash", "-c", $"ulimit -n {limit} && exec \"$@\"", "bash");
        }

        if (wrapper is [string program, .. string[] rest])
        {
            Prefix(start, program, rest);
        }

        Process = Process.Start(start)!;
        Process.StandardInput.Close();
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        if (!HostProcesses.WaitFor(() => Log.Contains("listening on") || Process.HasExited, TimeSpan.FromSeconds(15)) || Process.HasExited)
        {
            string log = Log;
            Dispose();
            throw new InvalidOperationException("the host did not start:\n" + log);
        }

        Env = new Dictionary<string, string?> { ["VIMAGE_SOCKET"] = SocketPath, ["VIMAGE_NO_AUTOSTART"] = "1" };
    }

    public string Root { get; }

    public string SocketPath { get; }

    public Process Process { get; }

    public Dictionary<string, string?> Env { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Runs <paramref name="start"/>'s command through <paramref name="wrapper"/> (bash -c, setpriv ...).</summary>
    public static ProcessStartInfo Prefix(ProcessStartInfo start, string wrapper, params string[] wrapperArgs)
    {
        string[] command = [start.FileName, .. start.ArgumentList];
        start.FileName = wrapper;
        start.ArgumentList.Clear();
        foreach (string arg in (string[])[.. wrapperArgs, .. command])
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>Threads of the host process now (/proc/PID/status).</summary>
    public int Threads()
    {
        string line = File.ReadLines($"/proc/{Process.Id}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal));
        return int.Parse(line["Threads:".Length..].Trim());
    }

    /// <summary>The status line (connections, limit, refused) over the protocol.</summary>
    /// <remarks>Empty when the host closed the connection before the request was written (refused at a full cap).</remarks>
    public string Status() => TryExchange(HostProcesses.Frame("{\"op\": \"status\"}"u8.ToArray()))?.Out ?? "";

    /// <summary>One exchange over the protocol; null when the host closed the connection before the request was written.</summary>
    public (int? Exit, string Out, string Err, string? Error)? TryExchange(byte[] request)
    {
        try
        {
            return HostProcesses.Exchange(SocketPath, request);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A connected socket to the host (connect waits at most 10 s for room in the backlog).</summary>
    public Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { SendTimeout = 10_000 };
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A run request frame for argv.</summary>
    public static byte[] Request(params string[] argv) =>
        HostProcesses.Frame(Encoding.UTF8.GetBytes($"{{\"argv\": {JsonSerializer.Serialize(argv, HostTestJson.Default.StringArray)}}}"));

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        Process.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }
}
