using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Stack;

namespace Vimage.Cli.Host;

/// <summary>
/// The host: owns the vnets (the kernel, every stack, the jail list) and serves command lines over a Unix socket,
/// one task per connection (Protocol.md). Nothing a client sends or fails to receive can take it down.
/// </summary>
public sealed partial class HostServer : IDisposable
{
    private readonly string _socketPath;
    private readonly HostLimits _limits;
    private readonly TextWriter? _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly CommandDispatcher _dispatcher = CommandDispatcher.CreateDefault();
    private readonly JailRegistry _jails = new();
    private readonly HashSet<Task> _connections = [];
    private readonly DateTime _started = DateTime.UtcNow;
    private Socket? _listener;
    private SafeFileHandle? _lock;
    private int _connectionCount;
    private int _active; // connections being served (the cap counts these)
    private long _refused; // over the cap or out of descriptors
    private bool _owner; // we hold the lock and created the socket: ours to delete
    private int _disposed;

    public HostServer(string socketPath, TextWriter? log = null, HostLimits? limits = null)
    {
        _socketPath = Path.GetFullPath(socketPath);
        _log = log;
        _limits = limits ?? new HostLimits();
    }

    public string SocketPath => _socketPath;

    /// <summary>Signalled when the host is asked to stop (shutdown request, SIGTERM, SIGINT, Stop()).</summary>
    public CancellationToken Stopping => _stop.Token;

    /// <summary>Thrown by Start when another host already serves the socket.</summary>
    public sealed class AlreadyRunningException(string path) : Exception($"a host is already running at {path}");

    /// <summary>
    /// Creates the socket directory (0700) if missing, checks that it is ours alone (SocketSecurity), takes the host
    /// lock (O_NOFOLLOW, owner checked), replaces a stale socket of ours, binds and listens (socket 0600), and
    /// boots the kernel and network stack.
    /// </summary>
    /// <exception cref="UnsafeSocketException">The directory, socket or lock file is not ours alone.</exception>
    public void Start()
    {
        string directory = Path.GetDirectoryName(_socketPath) ?? "/";
        if (!SocketSecurity.CheckDirectory(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            SocketSecurity.CheckDirectory(directory); // whatever won a race to create it must pass too
        }

        // One host per socket: the lock file serialises racing starters (two clients autostarting at once).
        TakeLock(_socketPath + ".lock");
        try
        {
            if (SocketSecurity.CheckSocket(_socketPath))
            {
                if (HostClient.IsListening(_socketPath))
                {
                    throw new AlreadyRunningException(_socketPath);
                }

                File.Delete(_socketPath); // stale: ours, and nobody listens
            }
        }
        catch
        {
            ReleaseLock();
            throw;
        }

        VnetSystem.Boot();
        NetStack.EnsureInitialized();

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(_socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            _owner = true; // the lock is ours; a half-made socket file too
            ReleaseLock();
            throw;
        }

        _listener = listener;
        _owner = true;
        Log($"listening on {_socketPath} (pid {Environment.ProcessId}, {(Vnet.IsVimage ? "VIMAGE" : "no VIMAGE")})");
    }

    /// <summary>Accepts connections until Stop; then cancels running commands, waits briefly for them, and cleans up.</summary>
    public async Task RunAsync()
    {
        Socket listener = _listener ?? throw new InvalidOperationException("Start the host first");
        _reserve = OpenReserve();
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e)
            {
                await AcceptFailedAsync(listener, e).ConfigureAwait(false);
                continue;
            }

            AcceptSucceeded();
            Admit(client);
        }

        Task[] running;
        lock (_connections)
        {
            running = [.. _connections];
        }

        // Running commands saw the stop token; give them a moment to finish their last frames.
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(TimeSpan.FromSeconds(3))).ConfigureAwait(false);
        Dispose();
    }

    /// <summary>Asks the host to stop (idempotent, callable from any thread or a signal handler).</summary>
    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Stop();
        _listener?.Dispose();
        _reserve?.Dispose();
        try
        {
            _jails.RemoveAll();
        }
        catch (Exception e)
        {
            Log($"removing jails: {e.Message}");
        }

        bool owner = _owner;
        ReleaseLock();
        if (owner)
        {
            Log("stopped");
        }
    }

    private void TakeLock(string path)
    {
        if (!HostFiles.Supported)
        {
            try
            {
                _lock = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return;
            }
            catch (IOException)
            {
                throw new AlreadyRunningException(_socketPath);
            }
        }

        switch (HostFiles.OpenLock(path, out SafeFileHandle? handle))
        {
            case HostFiles.LockResult.Symlink:
                throw SocketSecurity.SymlinkedLock(path);
            case HostFiles.LockResult.Busy:
                throw new AlreadyRunningException(_socketPath);
        }

        try
        {
            SocketSecurity.CheckLock(path, handle!);
        }
        catch
        {
            handle!.Dispose();
            throw;
        }

        _lock = handle;
    }

    private void ReleaseLock()
    {
        if (_owner)
        {
            _owner = false;
            // The lock file stays: unlinking a locked file would let two later hosts lock two different files.
            TryDelete(_socketPath);
        }

        _lock?.Dispose();
        _lock = null;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private async Task ServeAsync(Socket socket, int id)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var channel = new ResponseChannel(stream, cancel, _limits);
        bool linger = false; // refused with the client's bytes perhaps unread: close gracefully, not with a reset
        try
        {
            uint? peer = HostNative.PeerUid(socket);
            uint self = HostNative.GetUid();
            if (peer is null || (peer.Value != self && !OperatingSystem.IsWindows()))
            {
                Log($"#{id}: refused peer uid {peer?.ToString() ?? "?"}");
                Refuse(channel, $"permission denied: peer uid {peer?.ToString() ?? "unknown"} is not the host's uid {self}", HostProtocol.ExitNoPerm);
                linger = true;
                return;
            }

            HostRequest request;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
                timeout.CancelAfter(_limits.RequestTimeout);
                byte[]? payload = await HostProtocol.ReadFrameAsync(stream, HostLimits.MaxRequest, timeout.Token).ConfigureAwait(false);
                if (payload is null)
                {
                    return; // connected and left: a liveness probe
                }

                request = HostProtocol.ParseRequest(payload);
            }
            catch (ProtocolException e)
            {
                Log($"#{id}: {e.Message}");
                Refuse(channel, e.Message, HostProtocol.ExitProtocol);
                linger = true;
                return;
            }
            catch (OperationCanceledException)
            {
                if (!_stop.IsCancellationRequested)
                {
                    Refuse(channel, "timed out waiting for the request", HostProtocol.ExitProtocol);
                }

                return;
            }

            switch (request.Op ?? "run")
            {
                case "run":
                    await RunCommandAsync(id, stream, channel, cancel, request).ConfigureAwait(false);
                    break;
                case "status":
                    channel.Send(new HostResponse { Out = Status() });
                    channel.Send(new HostResponse { Exit = 0 });
                    break;
                case "shutdown":
                    Log($"#{id}: shutdown requested");
                    channel.Send(new HostResponse { Out = $"vimage host: stopping (pid {Environment.ProcessId})\n" });
                    channel.Send(new HostResponse { Exit = 0 });
                    Stop();
                    break;
                default:
                    Refuse(channel, $"bad request: unknown op \"{request.Op}\"", HostProtocol.ExitProtocol);
                    break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away: nothing to tell anyone.
        }
        catch (Exception e)
        {
            Log($"#{id}: internal error: {e}");
            Refuse(channel, $"internal error: {e.GetType().Name}: {e.Message}", HostProtocol.ExitSoftware);
        }
        finally
        {
            await CloseAsync(socket, stream, channel, linger).ConfigureAwait(false);
            Interlocked.Decrement(ref _active);
            if (channel.TimedOut)
            {
                Log($"#{id}: dropped: the client took no output for {_limits.WriteTimeout.TotalSeconds:F0} s");
            }
        }
    }

    private static void Refuse(ResponseChannel channel, string message, int exit)
    {
        channel.Send(new HostResponse { Error = message });
        channel.Send(new HostResponse { Exit = exit });
    }

    private async Task RunCommandAsync(int id, NetworkStream stream, ResponseChannel channel, CancellationTokenSource cancel, HostRequest request)
    {
        if (request.Argv is not { Length: > 0 } argv || argv.Any(a => a is null))
        {
            Refuse(channel, "bad request: \"argv\" must be a non-empty array of strings", HostProtocol.ExitProtocol);
            return;
        }

        string[] args = argv!;
        string line = string.Join(' ', args);
        Log($"#{id}: {(line.Length <= 256 ? line : $"{line[..256]}... ({args.Length} arguments, {line.Length} characters)")}"); // a log line per request stays short

        // Watch the connection: end-of-stream means the client went away (or Ctrl-C). A client that streams stdin
        // sends only what the command asked for (HostInput's grants); anything else breaks the protocol.
        HostInput? input = request.Stdin == true ? new HostInput(channel) : null;
        _ = Task.Run(() => WatchAsync(stream, channel, input, cancel));

        var clock = Stopwatch.StartNew();
        using TextWriter output = channel.CreateWriter(error: false);
        using TextWriter error = channel.CreateWriter(error: true);
        string? cwd = request.Cwd is { Length: > 0 } dir && Path.IsPathFullyQualified(dir) ? dir : null;
        var context = new CommandContext(Vnet.Vnet0, output, error, _jails, cancel.Token, cwd)
        {
            Input = input,
            BinaryOut = new HostOutput(channel),
        };
        int status = await Task.Factory.StartNew(
            () =>
            {
                try
                {
                    return _dispatcher.Run(context, args);
                }
                catch (OperationCanceledException)
                {
                    return 130;
                }
                catch (Exception e)
                {
                    // The dispatcher catches everything but its own failure to report on a broken writer.
                    try
                    {
                        error.WriteLine($"{args[0]}: internal error: {e.GetType().Name}: {e.Message}");
                    }
                    catch (Exception)
                    {
                    }

                    return HostProtocol.ExitSoftware;
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).ConfigureAwait(false);

        output.Flush();
        error.Flush();
        channel.Send(new HostResponse { Exit = status });
        Log($"#{id}: exit {status} in {clock.ElapsedMilliseconds} ms{(channel.IsDead ? " (client gone)" : "")}");
    }

    /// <summary>Reads the client's frames after the request until it goes away; marks the channel dead then.</summary>
    private static async Task WatchAsync(NetworkStream stream, ResponseChannel channel, HostInput? input, CancellationTokenSource cancel)
    {
        try
        {
            if (input is null)
            {
                // Bytes after the request break the protocol: past a request's worth, the connection is dropped.
                var sink = new byte[256];
                long extra = 0;
                int n;
                while ((n = await stream.ReadAsync(sink, cancel.Token).ConfigureAwait(false)) > 0 && (extra += n) <= HostLimits.MaxRequest)
                {
                }
            }
            else
            {
                while (await HostProtocol.ReadFrameAsync(stream, HostLimits.MaxRequest, cancel.Token).ConfigureAwait(false) is { } payload
                       && HostProtocol.ParseRequest(payload) is var frame
                       && input.Deliver(frame.In, frame.Eof == true))
                {
                }
            }
        }
        catch (OperationCanceledException)
        {
            return; // host shutdown: the client is still there and gets the command's exit frame
        }
        catch (Exception)
        {
            // IO error, bad frame or disposal: the connection is over.
        }

        channel.MarkDead();
    }

    private string Status()
    {
        int running;
        lock (_connections)
        {
            running = _connections.Count;
        }

        return $"vimage host: pid {Environment.ProcessId}, socket {_socketPath}, {(Vnet.IsVimage ? "VIMAGE" : "no VIMAGE")}, " +
               $"up {(DateTime.UtcNow - _started).TotalSeconds:F0} s, {_jails.All.Count} jail(s), {running} connection(s) " +
               $"(limit {_limits.EffectiveMaxConnections()}, {Interlocked.Read(ref _refused)} refused), " +
               $"{RuntimeInformation.FrameworkDescription}\n";
    }

    private void Log(string message)
    {
        if (_log is null)
        {
            return;
        }

        lock (_log)
        {
            try
            {
                _log.WriteLine($"{DateTime.Now:HH:mm:ss.fff} vimage host: {message}");
                _log.Flush();
            }
            catch (Exception)
            {
            }
        }
    }
}
