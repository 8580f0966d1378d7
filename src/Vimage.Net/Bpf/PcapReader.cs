using System.Buffers.Binary;

namespace Vimage.Net.Bpf;

/// <summary>One record of a pcap file.</summary>
public sealed class PcapRecord
{
    internal PcapRecord(long index, uint seconds, uint fraction, bool nanoseconds, int originalLength, byte[] data)
    {
        Index = index;
        Seconds = seconds;
        Fraction = fraction;
        IsNanosecond = nanoseconds;
        OriginalLength = originalLength;
        Data = data;
    }

    /// <summary>Zero-based position of the record in the file.</summary>
    public long Index { get; }

    /// <summary>ts_sec: whole seconds since the Unix epoch.</summary>
    public uint Seconds { get; }

    /// <summary>ts_usec (or ts_nsec in a nanosecond file).</summary>
    public uint Fraction { get; }

    public bool IsNanosecond { get; }

    /// <summary>Microseconds since the Unix epoch (nanoseconds truncated).</summary>
    public long UnixMicroseconds => Seconds * 1_000_000L + (IsNanosecond ? Fraction / 1000 : Fraction);

    /// <summary>The timestamp as a UTC <see cref="DateTime"/> (100 ns resolution).</summary>
    public DateTime Timestamp =>
        new(PcapFormat.UnixEpochTicks + Seconds * TimeSpan.TicksPerSecond + (IsNanosecond ? Fraction / 100 : Fraction * 10L),
            DateTimeKind.Utc);

    /// <summary>orig_len: the frame's length on the wire.</summary>
    public int OriginalLength { get; }

    /// <summary>incl_len: the bytes captured (less than <see cref="OriginalLength"/> when the snapshot length cut it).</summary>
    public int IncludedLength => Data.Length;

    public bool IsTruncated => Data.Length < OriginalLength;

    /// <summary>The captured bytes.</summary>
    public byte[] Data { get; }
}

/// <summary>
/// Reads a classic libpcap savefile (either byte order, microsecond or nanosecond timestamps, version 2.x).
/// Anything malformed — a bad magic, an unknown version, a truncated header or record, an impossible length —
/// raises <see cref="InvalidDataException"/> saying what and where; the reader never allocates more than the stream holds
/// (for a seekable stream) or <see cref="PcapFormat.MaxRecordLength"/>.
/// </summary>
public sealed class PcapReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly bool _swapped;
    private readonly byte[] _recordHeader = new byte[PcapFormat.RecordHeaderLength];
    private long _offset;
    private long _index;
    private bool _disposed;

    public PcapReader(string path)
        : this(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 64 * 1024), leaveOpen: false)
    {
    }

    /// <summary>Reads and validates the global header; throws <see cref="InvalidDataException"/> if it is not pcap.</summary>
    public PcapReader(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The pcap stream must be readable.", nameof(stream));
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        try
        {
            Span<byte> h = stackalloc byte[PcapFormat.GlobalHeaderLength];
            int got = _stream.ReadAtLeast(h, h.Length, throwOnEndOfStream: false);
            if (got < 4)
            {
                throw new InvalidDataException(
                    $"Not a pcap file: {got} byte(s), too short to hold the 24-byte global header.");
            }

            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(h);
            switch (magic)
            {
                case PcapFormat.MagicMicroseconds: break;
                case PcapFormat.MagicNanoseconds: IsNanosecond = true; break;
                default:
                    uint swappedMagic = BinaryPrimitives.ReverseEndianness(magic);
                    if (swappedMagic == PcapFormat.MagicMicroseconds) { _swapped = true; }
                    else if (swappedMagic == PcapFormat.MagicNanoseconds) { _swapped = true; IsNanosecond = true; }
                    else if (magic is 0x0a0d0d0a)
                    {
                        throw new InvalidDataException("This is a pcapng file; only the classic pcap format is supported.");
                    }
                    else
                    {
                        throw new InvalidDataException(
                            $"Not a pcap file: bad magic number 0x{magic:x8} (expected 0xa1b2c3d4 or 0xa1b23c4d, either byte order).");
                    }

                    break;
            }

            if (got < h.Length)
            {
                throw new InvalidDataException(
                    $"Truncated pcap file: the global header needs {h.Length} bytes but the file holds only {got}.");
            }

            VersionMajor = ReadUInt16(h[4..]);
            VersionMinor = ReadUInt16(h[6..]);
            if (VersionMajor != PcapFormat.VersionMajor)
            {
                throw new InvalidDataException(
                    $"Unsupported pcap version {VersionMajor}.{VersionMinor} (expected {PcapFormat.VersionMajor}.{PcapFormat.VersionMinor}).");
            }

            ThisZone = (int)ReadUInt32(h[8..]);
            SigFigs = ReadUInt32(h[12..]);
            SnapLength = ReadUInt32(h[16..]);
            // The top bits of the link-type field carry the FCS length flags (pcap-savefile(5)); the type is the low 16.
            LinkType = (PcapLinkType)(ReadUInt32(h[20..]) & 0xFFFF);
            _offset = PcapFormat.GlobalHeaderLength;
        }
        catch
        {
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }

            throw;
        }
    }

    public ushort VersionMajor { get; }
    public ushort VersionMinor { get; }
    public int ThisZone { get; }
    public uint SigFigs { get; }
    public uint SnapLength { get; }
    public PcapLinkType LinkType { get; }

    /// <summary>True when the file stores nanoseconds in its fraction field (magic 0xa1b23c4d).</summary>
    public bool IsNanosecond { get; }

    /// <summary>True when the file was written in the opposite byte order to little-endian.</summary>
    public bool IsByteSwapped => _swapped;

    /// <summary>
    /// Reads the next record. Returns false at a clean end of file (exactly at a record boundary); throws
    /// <see cref="InvalidDataException"/> for a truncated or impossible record.
    /// </summary>
    public bool TryReadNext(out PcapRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        record = null!;
        Span<byte> h = _recordHeader;
        int got = _stream.ReadAtLeast(h, h.Length, throwOnEndOfStream: false);
        if (got == 0)
        {
            return false;
        }

        if (got < h.Length)
        {
            throw new InvalidDataException(
                $"Truncated pcap file: record {_index} at offset {_offset} has only {got} of its {h.Length} header bytes.");
        }

        uint seconds = ReadUInt32(h[0..]);
        uint fraction = ReadUInt32(h[4..]);
        uint included = ReadUInt32(h[8..]);
        uint original = ReadUInt32(h[12..]);

        uint fractionLimit = IsNanosecond ? 1_000_000_000u : 1_000_000u;
        if (fraction >= fractionLimit)
        {
            throw new InvalidDataException(
                $"Corrupt pcap record {_index} at offset {_offset}: sub-second field {fraction} is not below {fractionLimit}.");
        }

        long limit = Math.Min(Math.Max(SnapLength, (uint)PcapFormat.DefaultSnapLength), PcapFormat.MaxRecordLength);
        if (included > limit)
        {
            throw new InvalidDataException(
                $"Corrupt pcap record {_index} at offset {_offset}: captured length {included} exceeds the limit of {limit} " +
                $"(snaplen {SnapLength}).");
        }

        if (included > original)
        {
            throw new InvalidDataException(
                $"Corrupt pcap record {_index} at offset {_offset}: captured length {included} exceeds original length {original}.");
        }

        if (original > int.MaxValue)
        {
            throw new InvalidDataException(
                $"Corrupt pcap record {_index} at offset {_offset}: original length {original} is impossible.");
        }

        if (_stream.CanSeek)
        {
            long remaining = _stream.Length - _stream.Position;
            if (remaining < included)
            {
                throw new InvalidDataException(
                    $"Truncated pcap file: record {_index} at offset {_offset} declares {included} captured bytes " +
                    $"but only {remaining} remain.");
            }
        }

        byte[] data = included == 0 ? [] : new byte[included];
        int read = _stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (read < data.Length)
        {
            throw new InvalidDataException(
                $"Truncated pcap file: record {_index} at offset {_offset} declares {included} captured bytes " +
                $"but only {read} remain.");
        }

        record = new PcapRecord(_index, seconds, fraction, IsNanosecond, (int)original, data);
        _index++;
        _offset += PcapFormat.RecordHeaderLength + included;
        return true;
    }

    /// <summary>Reads every remaining record.</summary>
    public IEnumerable<PcapRecord> ReadAll()
    {
        while (TryReadNext(out PcapRecord record))
        {
            yield return record;
        }
    }

    /// <summary>Reads every record of the file at <paramref name="path"/>.</summary>
    public static List<PcapRecord> ReadAllRecords(string path)
    {
        using var reader = new PcapReader(path);
        return reader.ReadAll().ToList();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private ushort ReadUInt16(ReadOnlySpan<byte> b) =>
        _swapped ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    private uint ReadUInt32(ReadOnlySpan<byte> b) =>
        _swapped ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
}
