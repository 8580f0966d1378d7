using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Vimage.Cli.Host;

/// <summary>
/// The client side: sends one request to the host, copies the streamed out/err frames to its own stdout/stderr,
/// and returns the command's exit status. Starts a host on demand unless VIMAGE_NO_AUTOSTART=1.
/// </summary>
public static class HostClient
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    /// <summary>True when something accepts connections on the socket.</summary>
    public static bool IsListening(string socketPath)
    {
        try
        {
            using Socket socket = Connect(socketPath);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary><c>vimage COMMAND ARGS...</c>: runs argv in the host (started on demand).</summary>
    public static int Run(string[] argv, TextWriter output, TextWriter error, string? socketOption = null)
    {
        string path = HostPaths.Resolve(socketOption);
        if (!TryConnectSafely(path, error, out Socket? socket, out int refused))
        {
            return refused;
        }

        if (socket is null)
        {
            if (HostPaths.AutostartDisabled)
            {
                error.WriteLine($"vimage: no host running at {path} (start one with: vimage host)");
                return HostProtocol.ExitUnavailable;
            }

            int started = StartHost(path, error, out _);
            if (started != 0)
            {
                return started;
            }

            if (!TryConnectSafely(path, error, out socket, out refused))
            {
                return refused;
            }

            if (socket is null)
            {
                error.WriteLine($"vimage: no host running at {path} (start one with: vimage host)");
                return HostProtocol.ExitUnavailable;
            }
        }

        var request = new HostRequest
        {
            Argv = argv,
            Cwd = Environment.CurrentDirectory,
            Stdin = true,
        };
        return Exchange(socket, request, output, error, path);
    }

    /// <summary><c>vimage host --stop</c>: asks the host to shut down.</summary>
    public static int Stop(string path, TextWriter output, TextWriter error) => Simple(path, "shutdown", output, error);

    /// <summary><c>vimage host --status</c>: one line about the running host.</summary>
    public static int Status(string path, TextWriter output, TextWriter error) => Simple(path, "status", output, error);

    private static int Simple(string path, string op, TextWriter output, TextWriter error)
    {
        if (!TryConnectSafely(path, error, out Socket? socket, out int refused))
        {
            return refused;
        }

        if (socket is null)
        {
            error.WriteLine($"vimage: no host running at {path}");
            return HostProtocol.ExitUnavailable;
        }

        return Exchange(socket, new HostRequest { Op = op }, output, error, path);
    }

    /// <summary>
    /// Starts a detached host (<c>vimage host --daemon --socket PATH</c>, the same executable, stdio on /dev/null,
    /// its own session) and waits up to 10 s for its socket. 0 on success (or if another host won the race).
    /// </summary>
    public static int StartHost(string path, TextWriter error, out int pid)
    {
        pid = 0;
        var start = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        string self = Environment.ProcessPath ?? "dotnet";
        start.FileName = self;
        if (string.Equals(Path.GetFileNameWithoutExtension(self), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            // Run as `dotnet vimage.dll`: the host is the same assembly under the same runtime.
            start.ArgumentList.Add(typeof(HostClient).Assembly.Location);
        }

        foreach (string arg in new[] { "host", "--daemon", "--socket", path })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception e)
        {
            error.WriteLine($"vimage: cannot start a host ({self}): {e.Message}");
            return HostProtocol.ExitOsErr;
        }

        // The daemon re-points its stdio at /dev/null first thing; our pipe ends are not needed.
        process.StandardInput.Close();
        process.StandardOutput.Close();
        process.StandardError.Close();
        pid = process.Id;

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < StartTimeout)
        {
            if (IsListening(path))
            {
                return 0;
            }

            if (process.HasExited)
            {
                // Lost a start race to another host? Then that one will be listening shortly.
                if (WaitListening(path, TimeSpan.FromSeconds(2)))
                {
                    return 0;
                }

                error.WriteLine($"vimage: the host exited with status {process.ExitCode} before listening on {path}");
                return HostProtocol.ExitUnavailable;
            }

            Thread.Sleep(25);
        }

        error.WriteLine($"vimage: the host did not listen on {path} within {StartTimeout.TotalSeconds:F0} s");
        return HostProtocol.ExitUnavailable;
    }

    private static bool WaitListening(string path, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (IsListening(path))
            {
                return true;
            }

            Thread.Sleep(25);
        }

        return false;
    }

    internal static Socket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects only to a host that passes the socket rules (SocketSecurity) and runs as our uid (or root):
    /// anyone else listening there could forge output and capture argv and cwd. False (after printing why) with
    /// <paramref name="status"/> 77 (EX_NOPERM) when refused; true with a null socket when no host listens.
    /// </summary>
    public static bool TryConnectSafely(string path, TextWriter error, out Socket? socket, out int status)
    {
        socket = null;
        status = 0;
        try
        {
            if (!SocketSecurity.CheckDirectory(Path.GetDirectoryName(path) ?? "/") || !SocketSecurity.CheckSocket(path))
            {
                return true;
            }

            socket = Connect(path);
        }
        catch (UnsafeSocketException e)
        {
            error.WriteLine($"vimage: {e.Message}");
            status = HostProtocol.ExitNoPerm;
            return false;
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return true;
        }

        uint self = HostNative.GetUid();
        uint? host = HostNative.PeerUid(socket);
        if (!OperatingSystem.IsWindows() && host is { } uid && uid != self && uid != 0)
        {
            socket.Dispose();
            socket = null;
            error.WriteLine($"vimage: the host listening on {path} runs as uid {uid}, not as uid {self}: refusing to talk to it " +
                            "(stop it and remove the socket)");
            status = HostProtocol.ExitNoPerm;
            return false;
        }

        return true;
    }

    private static int Exchange(Socket socket, HostRequest request, TextWriter output, TextWriter error, string path)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        bool interrupted = false;

        // Ctrl-C: just drop the connection; the host sees end-of-stream and cancels the command.
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupted = true;
            socket.Dispose();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            try
            {
                stream.Write(HostProtocol.Encode(request));
                stream.Flush();
            }
            catch (IOException) when (!interrupted)
            {
                // The host may have refused us before reading (too many connections): its frames are still readable.
            }

            StdinPump? stdin = request.Stdin == true ? new StdinPump(stream) : null;
            while (true)
            {
                byte[]? payload = HostProtocol.ReadFrameAsync(stream, CancellationToken.None).GetAwaiter().GetResult();
                if (payload is null)
                {
                    error.WriteLine($"vimage: the host at {path} closed the connection without an exit status");
                    return HostProtocol.ExitUnavailable;
                }

                HostResponse response = HostProtocol.ParseResponse(payload);
                if (response.Out is { } text)
                {
                    output.Write(text);
                    output.Flush();
                }

                if (response.Data is { } data)
                {
                    output.Flush();
                    if (output is StreamWriter { BaseStream: { } raw })
                    {
                        raw.Write(data);
                        raw.Flush();
                    }
                    else
                    {
                        output.Write(Encoding.UTF8.GetString(data));
                    }
                }

                if (response.Read is { } grant)
                {
                    stdin?.Grant(grant);
                }

                if (response.Err is { } errText)
                {
                    error.Write(errText);
                    error.Flush();
                }

                if (response.Error is { } message)
                {
                    error.WriteLine($"vimage: host: {message}");
                    error.Flush();
                }

                if (response.Exit is { } status)
                {
                    return status;
                }
            }
        }
        catch (Exception) when (interrupted)
        {
            return 130;
        }
        catch (ProtocolException e)
        {
            error.WriteLine($"vimage: {e.Message}");
            return HostProtocol.ExitProtocol;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            error.WriteLine($"vimage: lost the connection to the host at {path}: {e.Message}");
            return HostProtocol.ExitUnavailable;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Answers the host's grants from our stdin on a thread of its own (a read of stdin may block for long).</summary>
    private sealed class StdinPump(Stream connection)
    {
        private readonly SemaphoreSlim _granted = new(0);
        private int _size;
        private Thread? _thread;

        public void Grant(int size)
        {
            Volatile.Write(ref _size, Math.Clamp(size, 1, HostLimits.MaxRequest / 2));
            // Started on the first grant. (Not "ThreadState == Unstarted": a background thread not yet started is
            // Unstarted | Background, so that test never started the pump and stdin never reached the command.)
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "vimage stdin" };
                _thread.Start();
            }

            _granted.Release();
        }

        private void Run()
        {
            using Stream input = Console.OpenStandardInput();
            try
            {
                while (true)
                {
                    _granted.Wait();
                    var buffer = new byte[Volatile.Read(ref _size)];
                    int n = input.Read(buffer);
                    connection.Write(HostProtocol.Encode(n > 0 ? new HostRequest { In = buffer[..n] } : new HostRequest { Eof = true }));
                    if (n == 0)
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                // the host is gone: the reader reports it
            }
        }
    }

    /// <summary>UTF-8 stdout/stderr writers without a BOM, flushed per frame.</summary>
    internal static TextWriter StdWriter(bool error) =>
        new StreamWriter(error ? Console.OpenStandardError() : Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
}
