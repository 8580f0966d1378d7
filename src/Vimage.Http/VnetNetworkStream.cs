using System.Net.Sockets;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Http;

/// <summary>
/// NetworkStream's contract over a vnet <see cref="TcpSocket"/>: I/O failures are <see cref="IOException"/>s whose
/// inner exception is a <see cref="SocketException"/> (what SocketsHttpHandler and SslStream expect, e.g. to retry
/// a request on a pooled connection the server had closed); a socket whose vnet was destroyed is an IOException too.
/// Reads and writes go straight to the socket (no buffering, no copy beyond the socket buffer's).
/// </summary>
public sealed class VnetNetworkStream(TcpSocket socket, bool ownsSocket = true) : Stream
{
    public TcpSocket Socket { get; } = socket;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return Socket.Receive(buffer);
        }
        catch (Exception e) when (IsSocketFailure(e))
        {
            throw Wrap(e, "read");
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsSocketFailure(e))
        {
            throw Wrap(e, "read");
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            Socket.Send(buffer);
        }
        catch (Exception e) when (IsSocketFailure(e))
        {
            throw Wrap(e, "write");
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await Socket.SendAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsSocketFailure(e))
        {
            throw Wrap(e, "write");
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsSocket)
        {
            Socket.Close();
        }

        base.Dispose(disposing);
    }

    private static bool IsSocketFailure(Exception e) => e is NetSocketException or ObjectDisposedException;

    private static IOException Wrap(Exception e, string op) => e switch
    {
        NetSocketException n => new IOException($"Unable to {op} data on the vnet connection: {n.Message}",
            new SocketException((int)VnetHttp.ToSocketError(n.Errno), n.Message)),
        _ => new IOException($"Unable to {op} data on the vnet connection: {e.Message}",
            new SocketException((int)SocketError.OperationAborted, e.Message)),
    };
}
