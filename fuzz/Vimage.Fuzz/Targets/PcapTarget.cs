using Vimage.Cli.Commands;
using Vimage.Cli.Commands.Tcpdump;
using Vimage.Fuzz.Engine;
using Vimage.Net.Bpf;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// pcap: the pcap file reader, from a seekable stream and from a pipe-like one, and tcpdump's one-line decoder
/// over every record it returns. A bad file must end in <see cref="InvalidDataException"/>; any other exception
/// is a crash.
/// </summary>
internal sealed class PcapTarget : IFuzzTarget
{
    public string Name => "pcap";

    public int MaxLength => 16384;

    public IReadOnlyList<byte[]> Dictionary { get; } =
    [
        [0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x0a, 0x0d, 0x0d, 0x0a],
        [0x02, 0x00, 0x04, 0x00], [0x01, 0x00, 0x00, 0x00], [0xff, 0xff, 0x00, 0x00], [0x3f, 0x42, 0x0f, 0x00], [0x00, 0xca, 0x9a, 0x3b],
        [0xff, 0xff, 0xff, 0xff], [0x00, 0x00, 0x04, 0x00], [0x08, 0x00], [0x08, 0x06], [0x45, 0x00],
    ];

    public void Run(ReadOnlySpan<byte> input)
    {
        byte[] bytes = input.ToArray();
        Read(new MemoryStream(bytes, writable: false));
        Read(new UnseekableStream(new MemoryStream(bytes, writable: false)));
    }

    public string? Teardown() => null;

    /// <summary>tcpdump's plain line and the option sets that decode and dump the most (-ttvveXX, -qxx, -vA).</summary>
    private static readonly TcpdumpPrinter[] Printers =
        [new(new TcpdumpFlags()), new(new TcpdumpFlags(T: 2, V: 2, E: true, BigX: 2)), new(new TcpdumpFlags(Q: true, X: 2)), new(new TcpdumpFlags(V: 1, A: 1))];

    private static void Read(Stream stream)
    {
        try
        {
            using var reader = new PcapReader(stream);
            while (reader.TryReadNext(out PcapRecord record))
            {
                _ = record.Timestamp;
                _ = record.IsTruncated;
                foreach (TcpdumpPrinter printer in Printers)
                {
                    _ = printer.Format(record.Data, record.OriginalLength, record.UnixMicroseconds);
                }
            }
        }
        catch (InvalidDataException)
        {
            // not pcap, or a corrupt or truncated record: the documented refusal
        }
    }

    /// <summary>A stream that cannot seek, as a pipe (tcpdump -r -) would be.</summary>
    private sealed class UnseekableStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
