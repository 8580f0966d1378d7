namespace Vimage.Cli.Host;

/// <summary>
/// The client's stdin as the command sees it (Protocol.md, "stdin"): a read with nothing buffered sends one grant
/// (<c>{"read": N}</c>) and waits for the client's <c>in</c> or <c>eof</c> frame. At most one grant is outstanding,
/// so the host holds at most <see cref="GrantBytes"/> of input per connection: a command that stops reading stops
/// the client (backpressure), and a command that never reads never consumes the client's stdin.
/// </summary>
internal sealed class HostInput(ResponseChannel channel) : Stream
{
    /// <summary>Largest <c>in</c> frame the host asks for (nc's BUFSIZE).</summary>
    public const int GrantBytes = 16384;

    private readonly object _lock = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private byte[]? _chunk;
    private int _offset;
    private bool _granted;
    private bool _eof;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>
    /// One frame from the client after the request. False breaks the protocol (input nobody asked for, more than
    /// granted, anything after eof): the caller drops the connection.
    /// </summary>
    public bool Deliver(byte[]? data, bool eof)
    {
        lock (_lock)
        {
            if (!_granted || _eof || (data is null) == !eof || data?.Length > GrantBytes)
            {
                return false;
            }

            _granted = false;
            _eof = eof;
            _chunk = data;
            _offset = 0;
        }

        _arrived.Release();
        return true;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var rented = new byte[buffer.Length];
        int n = ReadAsync(rented).AsTask().GetAwaiter().GetResult();
        rented.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0)
        {
            return 0;
        }

        while (true)
        {
            bool grant = false;
            lock (_lock)
            {
                if (_chunk is { } chunk && _offset < chunk.Length)
                {
                    int n = Math.Min(buffer.Length, chunk.Length - _offset);
                    chunk.AsMemory(_offset, n).CopyTo(buffer);
                    _offset += n;
                    return n;
                }

                if (_eof)
                {
                    return 0;
                }

                if (!_granted)
                {
                    _granted = grant = true;
                }
            }

            if (grant)
            {
                channel.Send(new HostResponse { Read = GrantBytes });
            }

            await _arrived.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Binary stdout: each write goes out as <c>{"data": ...}</c> frames of at most 16 KiB, waiting for room in the channel.</summary>
internal sealed class HostOutput(ResponseChannel channel) : Stream
{
    private const int Chunk = 16384;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i += Chunk)
        {
            channel.Send(new HostResponse { Data = buffer.Slice(i, Math.Min(Chunk, buffer.Length - i)).ToArray() });
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
