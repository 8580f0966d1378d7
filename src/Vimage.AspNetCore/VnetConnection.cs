using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Vimage.Net;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.AspNetCore;

/// <summary>
/// One accepted vnet TCP connection as Kestrel sees it (Kestrel's SocketConnection over a <see cref="TcpSocket"/>):
/// a receive loop copies from the socket buffer straight into the input pipe's memory (the one copy
/// StreamPipeReader would make too) and a send loop writes the output pipe's segments into the socket. Completing
/// the output sends FIN after what was written; <see cref="Abort(ConnectionAbortedException)"/> resets
/// (SO_LINGER 0); <see cref="ConnectionClosed"/> fires once the peer's end of data, a reset, an abort or the vnet's
/// destruction has ended the receive side.
/// </summary>
internal sealed class VnetConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    private const int MinReadSize = 4096;
    private static long s_nextId;

    private readonly TcpSocket _socket;
    private readonly IDuplexPipe _application;
    private readonly CancellationTokenSource _closed = new();
    private readonly Lock _gate = new();
    private Task _processing = Task.CompletedTask;
    private bool _aborted;
    private int _disposed;

    public VnetConnection(TcpSocket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        var input = new Pipe(new PipeOptions(pool, PipeScheduler.ThreadPool, PipeScheduler.Inline, 1024 * 1024, 512 * 1024, useSynchronizationContext: false));
        var output = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.ThreadPool, 1024 * 1024, 512 * 1024, useSynchronizationContext: false));
        Transport = new DuplexPipe(input.Reader, output.Writer);
        _application = new DuplexPipe(output.Reader, input.Writer);
        ConnectionId = $"vnet-{Interlocked.Increment(ref s_nextId):x}";
        LocalEndPoint = new IPEndPoint(VnetEndPoint.ToIPAddress(socket.LocalAddress), socket.LocalPort);
        RemoteEndPoint = new IPEndPoint(VnetEndPoint.ToIPAddress(socket.RemoteAddress), socket.RemotePort);
        ConnectionClosed = _closed.Token;
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    /// <summary>The vnet socket underneath.</summary>
    public TcpSocket Socket => _socket;

    public void Start() => _processing = Task.WhenAll(Task.Run(ReceiveLoop), Task.Run(SendLoop));

    public override void Abort(ConnectionAbortedException abortReason)
    {
        lock (_gate)
        {
            if (_aborted)
            {
                return;
            }

            _aborted = true;
        }

        // Stop the send loop first (nothing more goes out), then reset the connection: the receive loop ends with it.
        _application.Input.CancelPendingRead();
        CloseSocket(reset: true);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Transport.Input.CompleteAsync().ConfigureAwait(false);
        await Transport.Output.CompleteAsync().ConfigureAwait(false);
        await _processing.ConfigureAwait(false);
        CloseSocket(reset: false);
        _closed.Dispose();
    }

    private async Task ReceiveLoop()
    {
        PipeWriter writer = _application.Output;
        Exception? error = null;
        try
        {
            while (true)
            {
                Memory<byte> memory = writer.GetMemory(MinReadSize);
                int n = await _socket.ReceiveAsync(memory).ConfigureAwait(false);
                if (n == 0)
                {
                    break; // FIN: the peer's end of data
                }

                writer.Advance(n);
                FlushResult result = await writer.FlushAsync().ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break; // the application stopped reading
                }
            }
        }
        catch (NetSocketException e) when (e.Errno == Errno.ECONNRESET)
        {
            error = new ConnectionResetException(e.Message, e);
        }
        catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
        {
            error = _aborted ? new ConnectionAbortedException("The connection was aborted.", e) : new ConnectionAbortedException(e.Message, e);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
            FireClosed();
        }
    }

    private async Task SendLoop()
    {
        PipeReader reader = _application.Input;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    await _socket.SendAsync(segment).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            if (!_aborted)
            {
                _socket.Shutdown(ShutdownHow.SHUT_WR); // FIN after everything written
            }
        }
        catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
        {
            error = e;
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }

        // The application is done with the connection: a receive loop still waiting for the peer's FIN stops here
        // (shutdown(SHUT_RD): the pending receive sees end of data), as Kestrel's socket transport does.
        if (!_aborted && error is null)
        {
            TryShutdownRead();
        }
    }

    private void TryShutdownRead()
    {
        try
        {
            _socket.Shutdown(ShutdownHow.SHUT_RD);
        }
        catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
        {
            // Already gone: the receive loop has ended or is ending on its own.
        }
    }

    private void FireClosed()
    {
        ThreadPool.UnsafeQueueUserWorkItem(static c =>
        {
            try
            {
                c._closed.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }, this, preferLocal: false);
    }

    private void CloseSocket(bool reset)
    {
        if (_socket.IsClosed)
        {
            return;
        }

        try
        {
            if (reset)
            {
                _socket.Linger = 0; // close(2) with SO_LINGER 0: RST (tcp_drop)
            }
        }
        catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
        {
        }

        _socket.Close();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
