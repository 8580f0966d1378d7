using System.Buffers.Binary;

namespace Vimage.Net.Bpf;

/// <summary>
/// Writes the classic libpcap savefile format (magic 0xa1b2c3d4, version 2.4, microsecond timestamps), little-endian,
/// one record per frame. Frames longer than the snapshot length are truncated; the record keeps the original length.
/// </summary>
/// <remarks>
/// Thread-safe: several queues (or several <see cref="BpfTap"/>s) may write into one file at once; each record is
/// written whole under a lock. A write allocates nothing: the record header lives in a buffer reused under that lock.
/// If the underlying stream throws, the writer becomes faulted and every later write throws
/// <see cref="InvalidOperationException"/> (a half-written record cannot be taken back, so nothing more is appended).
/// </remarks>
public sealed class PcapWriter : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _recordHeader = new byte[PcapFormat.RecordHeaderLength];
    private Exception? _fault;
    private bool _disposed;
    private long _packets;
    private long _bytes;

    /// <summary>Creates (or overwrites) the file at <paramref name="path"/> and writes the global header.</summary>
    public PcapWriter(string path, int snapLength = PcapFormat.DefaultSnapLength, PcapLinkType linkType = PcapLinkType.Ethernet)
        : this(OpenFile(path), snapLength, linkType, leaveOpen: false)
    {
    }

    /// <summary>Writes the global header to <paramref name="stream"/>; records follow as frames are written.</summary>
    public PcapWriter(Stream stream, int snapLength = PcapFormat.DefaultSnapLength, PcapLinkType linkType = PcapLinkType.Ethernet,
        bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(snapLength);
            if (!stream.CanWrite)
            {
                throw new ArgumentException("The pcap stream must be writable.", nameof(stream));
            }

            WriteGlobalHeader(stream, snapLength, linkType);
        }
        catch
        {
            if (!leaveOpen)
            {
                stream.Dispose();
            }

            throw;
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        SnapLength = snapLength;
        LinkType = linkType;
    }

    private static void WriteGlobalHeader(Stream stream, int snapLength, PcapLinkType linkType)
    {
        Span<byte> header = stackalloc byte[PcapFormat.GlobalHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header[0..], PcapFormat.MagicMicroseconds);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], PcapFormat.VersionMajor);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], PcapFormat.VersionMinor);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);   // thiszone: timestamps are UTC
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
        stream.Write(header);
    }

    /// <summary>Records longer than this many bytes are truncated to it.</summary>
    public int SnapLength { get; }

    public PcapLinkType LinkType { get; }

    /// <summary>Records written so far.</summary>
    public long PacketsWritten => Interlocked.Read(ref _packets);

    /// <summary>Bytes written so far, headers included.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytes) + PcapFormat.GlobalHeaderLength;

    /// <summary>Writes one frame stamped with the current UTC time.</summary>
    public void Write(ReadOnlySpan<byte> frame) => Write(frame, UnixMicroseconds(DateTime.UtcNow));

    /// <summary>Writes one frame. A <see cref="DateTimeKind.Local"/> time is converted to UTC; Unspecified is taken as UTC.</summary>
    public void Write(ReadOnlySpan<byte> frame, DateTime timestamp) => Write(frame, UnixMicroseconds(timestamp));

    /// <summary>Writes one frame stamped <paramref name="unixMicroseconds"/> microseconds after 1970-01-01T00:00:00Z.</summary>
    public void Write(ReadOnlySpan<byte> frame, long unixMicroseconds)
    {
        long seconds = Math.DivRem(unixMicroseconds, 1_000_000, out long micros);
        if (unixMicroseconds < 0 || seconds > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(unixMicroseconds), unixMicroseconds,
                "A pcap timestamp must lie between 1970-01-01 and 2106-02-07 (32-bit unsigned seconds).");
        }

        int included = Math.Min(frame.Length, SnapLength);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_fault is not null)
            {
                throw new InvalidOperationException("The pcap writer is faulted: an earlier write to its stream failed.", _fault);
            }

            Span<byte> h = _recordHeader;
            BinaryPrimitives.WriteUInt32LittleEndian(h[0..], (uint)seconds);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)micros);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)included);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)frame.Length);
            try
            {
                _stream.Write(h);
                _stream.Write(frame[..included]);
            }
            catch (Exception ex)
            {
                _fault = ex;
                throw;
            }

            _packets++;
            _bytes += PcapFormat.RecordHeaderLength + included;
        }
    }

    /// <summary>Pushes buffered records to the underlying stream (and, for a file, to the operating system).</summary>
    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Flush();
        }
    }

    /// <summary>Flushes and, unless the writer was built with leaveOpen, closes the stream. Idempotent.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                if (_fault is null)
                {
                    _stream.Flush();
                }
            }
            finally
            {
                if (!_leaveOpen)
                {
                    _stream.Dispose();
                }
            }
        }
    }

    /// <summary>Microseconds since the Unix epoch of a <see cref="DateTime"/> (Local converted to UTC, Unspecified taken as UTC).</summary>
    public static long UnixMicroseconds(DateTime timestamp)
    {
        if (timestamp.Kind == DateTimeKind.Local)
        {
            timestamp = timestamp.ToUniversalTime();
        }

        return (timestamp.Ticks - PcapFormat.UnixEpochTicks) / TimeSpan.TicksPerMicrosecond;
    }

    private static FileStream OpenFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // FileShare.Read lets tcpdump (or a test) read the capture while it is still being written.
        return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 64 * 1024);
    }
}
