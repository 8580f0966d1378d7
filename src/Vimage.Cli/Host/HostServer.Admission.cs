using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace Vimage.Cli.Host;

/// <summary>
/// Admission and closing: the connection cap, surviving EMFILE/ENFILE on accept, and refusals that reach the
/// client as an error frame instead of a reset.
/// </summary>
public sealed partial class HostServer
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);

    private SafeFileHandle? _reserve; // one descriptor kept back to refuse a client when accept hits EMFILE
    private TimeSpan _backoff = FirstBackoff;
    private long _acceptFailures; // in the current run of failures

    /// <summary>Total accept(2) failures since start (EMFILE, ENFILE, ...); each was followed by a back-off.</summary>
    public long AcceptFailures { get; private set; }

    /// <summary>
    /// Serves the connection, or refuses it at once when the cap is reached. The cap keeps descriptors for the
    /// runtime: when connections took them all, creating a thread failed (pipe2: EMFILE) and the runtime
    /// aborted with "Out of memory." — the old crash.
    /// </summary>
    private void Admit(Socket client)
    {
        int cap = _limits.EffectiveMaxConnections();
        if (Interlocked.Increment(ref _active) > cap)
        {
            Interlocked.Decrement(ref _active);
            long refused = Interlocked.Increment(ref _refused);
            if ((refused & (refused - 1)) == 0)
            {
                Log($"refused a connection: {cap} connections already ({refused} refused so far)");
            }

            RefuseAtOnce(client, $"too many connections (the host serves at most {cap}); try again later", HostProtocol.ExitTempFail);
            return;
        }

        try
        {
            client.SendBufferSize = _limits.SocketBufferBytes;
        }
        catch (SocketException)
        {
        }

        int id = Interlocked.Increment(ref _connectionCount);
        Task task = Task.Run(() => ServeAsync(client, id));
        lock (_connections)
        {
            _connections.Add(task);
        }

        _ = task.ContinueWith(
            t =>
            {
                lock (_connections)
                {
                    _connections.Remove(t);
                }
            },
            TaskScheduler.Default);
    }

    /// <summary>
    /// accept(2) failed: back off (10 ms doubling to 1 s, so a persistent EMFILE never spins) and, when out of
    /// descriptors, spend the reserve one to refuse a waiting client with a frame rather than leave it hanging.
    /// </summary>
    private async Task AcceptFailedAsync(Socket listener, SocketException e)
    {
        AcceptFailures++;
        if (_acceptFailures++ == 0)
        {
            Log($"accept: {e.Message} ({e.SocketErrorCode}); backing off");
        }

        if (e.SocketErrorCode == SocketError.TooManyOpenSockets && _reserve is not null)
        {
            _reserve.Dispose();
            _reserve = null;
            try
            {
                using var quick = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                quick.CancelAfter(TimeSpan.FromMilliseconds(100));
                Socket waiting = await listener.AcceptAsync(quick.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _refused);
                RefuseAtOnce(waiting, "the host is out of file descriptors; try again later", HostProtocol.ExitTempFail);
            }
            catch (Exception other) when (other is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }

            _reserve = OpenReserve();
        }

        try
        {
            await Task.Delay(_backoff, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _backoff = _backoff * 2 > LastBackoff ? LastBackoff : _backoff * 2;
    }

    private void AcceptSucceeded()
    {
        if (_acceptFailures != 0)
        {
            Log($"accept: working again after {_acceptFailures} failure(s)");
            _acceptFailures = 0;
            _backoff = FirstBackoff;
        }

        _reserve ??= OpenReserve();
    }

    private static SafeFileHandle? OpenReserve()
    {
        try
        {
            return File.OpenHandle(OperatingSystem.IsWindows() ? "NUL" : "/dev/null", FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // out of descriptors right now: retried after the next good accept
        }
    }

    /// <summary>Error and exit frames without waiting (a fresh socket's buffer takes them), then close.</summary>
    private static void RefuseAtOnce(Socket socket, string message, int exit)
    {
        try
        {
            socket.Blocking = false;
            byte[] error = HostProtocol.Encode(new HostResponse { Error = message });
            byte[] status = HostProtocol.Encode(new HostResponse { Exit = exit });
            socket.Send([.. error, .. status], SocketFlags.None, out _);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>
    /// Writes what is queued, then, after a refusal, shuts down our side and reads (and drops) what the client
    /// still sends, at most a request's worth for at most 2 s: closing with its bytes unread would reset the
    /// connection and the client could lose the error frame.
    /// </summary>
    private static async Task CloseAsync(Socket socket, NetworkStream stream, ResponseChannel channel, bool linger)
    {
        await channel.DrainAsync().ConfigureAwait(false);
        if (!linger || channel.IsDead)
        {
            return;
        }

        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var timeout = new CancellationTokenSource(LingerTime);
            var sink = new byte[4096];
            long total = 0;
            int n;
            while (total <= HostLimits.MaxRequest + 4 && (n = await stream.ReadAsync(sink, timeout.Token).ConfigureAwait(false)) > 0)
            {
                total += n;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }
}
