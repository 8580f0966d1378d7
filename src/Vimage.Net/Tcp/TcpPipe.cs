using System.IO.Pipelines;

namespace Vimage.Net.Tcp;

/// <summary>
/// An <see cref="IDuplexPipe"/> (System.IO.Pipelines) over a connected <see cref="TcpSocket"/>: the input pipe
/// reads from the connection, the output pipe writes to it, through the socket's <see cref="TcpStream"/>.
/// Completing the output shuts the send side down (FIN) when <paramref name="shutdownOnComplete"/>; disposing the
/// pipe's stream closes the socket only if it was asked to own it.
/// </summary>
public sealed class TcpDuplexPipe(TcpSocket socket, bool ownsSocket = false) : IDuplexPipe
{
    private readonly TcpStream _stream = socket.GetStream(ownsSocket);

    public PipeReader Input { get; } = PipeReader.Create(socket.GetStream(ownsSocket: false), new StreamPipeReaderOptions(leaveOpen: true));

    public PipeWriter Output { get; } = PipeWriter.Create(socket.GetStream(ownsSocket: false), new StreamPipeWriterOptions(leaveOpen: true));

    public TcpSocket Socket { get; } = socket;

    /// <summary>Flushes and completes the output, then shuts the send side (the peer reads end of data).</summary>
    public async ValueTask CompleteOutputAsync()
    {
        await Output.FlushAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        Socket.Shutdown(Sockets.ShutdownHow.SHUT_WR);
    }

    /// <summary>Completes both pipes; closes the socket when it owns it.</summary>
    public async ValueTask DisposeAsync()
    {
        await Input.CompleteAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
