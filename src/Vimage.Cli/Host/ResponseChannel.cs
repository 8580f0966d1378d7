using System.Text;

namespace Vimage.Cli.Host;

/// <summary>
/// The response side of one connection: serialises frames from the command's out and err writers onto the socket.
/// When the client goes away a write fails once, the connection is marked dead and the command's token is
/// cancelled; later output is dropped silently, so a vanished client never turns into an error in the host.
/// </summary>
internal sealed class ResponseChannel(Stream stream, CancellationTokenSource cancel)
{
    private readonly object _lock = new();
    private bool _dead;

    public bool IsDead => Volatile.Read(ref _dead);

    public void Send(HostResponse response)
    {
        byte[] frame = HostProtocol.Encode(response);
        lock (_lock)
        {
            if (_dead)
            {
                return;
            }

            try
            {
                stream.Write(frame);
                stream.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                MarkDead();
            }
        }
    }

    public void MarkDead()
    {
        Volatile.Write(ref _dead, true);
        try
        {
            cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public TextWriter CreateWriter(bool error) => new FrameWriter(this, error);

    /// <summary>A TextWriter that ships its text as out/err frames at each newline, on Flush, or every 8 KiB.</summary>
    private sealed class FrameWriter(ResponseChannel channel, bool error) : TextWriter
    {
        private const int Chunk = 8192;
        private readonly StringBuilder _buffer = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_buffer)
            {
                _buffer.Append(value);
                if (value == '\n' || _buffer.Length >= Chunk)
                {
                    FlushLocked();
                }
            }
        }

        public override void Write(string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            lock (_buffer)
            {
                _buffer.Append(value);
                if (value.Contains('\n') || _buffer.Length >= Chunk)
                {
                    FlushLocked();
                }
            }
        }

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));

        public override void WriteLine(string? value) => Write((value ?? "") + NewLine);

        public override void WriteLine() => Write(NewLine);

        public override void Flush()
        {
            lock (_buffer)
            {
                FlushLocked();
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Flush();
            }

            base.Dispose(disposing);
        }

        private void FlushLocked()
        {
            if (_buffer.Length == 0)
            {
                return;
            }

            string text = _buffer.ToString();
            _buffer.Clear();
            channel.Send(error ? new HostResponse { Err = text } : new HostResponse { Out = text });
        }
    }
}
