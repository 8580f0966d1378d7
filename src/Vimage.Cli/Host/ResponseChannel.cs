using System.Text;

namespace Vimage.Cli.Host;

/// <summary>
/// The response side of one connection: queues frames from the command's out and err writers and an async pump
/// writes them to the socket, so a connection costs no thread of its own. The queue is bounded (a command that
/// outruns its client waits for room) and every write has a timeout: a client that stops reading is dropped after
/// <see cref="HostLimits.WriteTimeout"/> instead of pinning a thread. When the client goes away the connection is
/// marked dead and the command's token cancelled; later output is dropped silently, never an error in the host.
/// </summary>
internal sealed class ResponseChannel(Stream stream, CancellationTokenSource cancel, HostLimits limits)
{
    private readonly object _lock = new();
    private readonly Queue<byte[]> _queue = new();
    private int _queuedBytes;
    private Task _pump = Task.CompletedTask;
    private bool _pumping;
    private bool _dead;

    public bool IsDead => Volatile.Read(ref _dead);

    /// <summary>True when a frame was dropped because the client did not take it within the write timeout.</summary>
    public bool TimedOut { get; private set; }

    public void Send(HostResponse response)
    {
        byte[] frame = HostProtocol.Encode(response);
        lock (_lock)
        {
            // Backpressure: wait for room; the pump's write timeout bounds the wait (it marks the channel dead).
            while (!_dead && _queuedBytes > 0 && _queuedBytes + frame.Length > limits.OutputQueueBytes)
            {
                Monitor.Wait(_lock);
            }

            if (_dead)
            {
                return;
            }

            _queue.Enqueue(frame);
            _queuedBytes += frame.Length;
            if (!_pumping)
            {
                _pumping = true;
                _pump = Task.Run(PumpAsync);
            }
        }
    }

    /// <summary>Completes when every queued frame is written (or the connection is dead).</summary>
    public async Task DrainAsync()
    {
        while (true)
        {
            Task pump;
            lock (_lock)
            {
                if (!_pumping)
                {
                    return;
                }

                pump = _pump;
            }

            await pump.ConfigureAwait(false);
        }
    }

    public void MarkDead()
    {
        lock (_lock)
        {
            _dead = true;
            _queue.Clear();
            _queuedBytes = 0;
            Monitor.PulseAll(_lock);
        }

        try
        {
            cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            byte[] frame;
            lock (_lock)
            {
                if (_dead || _queue.Count == 0)
                {
                    _pumping = false;
                    Monitor.PulseAll(_lock);
                    return;
                }

                frame = _queue.Peek();
            }

            using var timeout = new CancellationTokenSource(limits.WriteTimeout);
            try
            {
                await stream.WriteAsync(frame, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException
                                          or System.Net.Sockets.SocketException or OperationCanceledException)
            {
                TimedOut = timeout.IsCancellationRequested;
                MarkDead();
                lock (_lock)
                {
                    _pumping = false;
                }

                return;
            }

            lock (_lock)
            {
                if (_queue.Count > 0 && ReferenceEquals(_queue.Peek(), frame))
                {
                    _queue.Dequeue();
                    _queuedBytes -= frame.Length;
                }

                Monitor.PulseAll(_lock);
            }
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
