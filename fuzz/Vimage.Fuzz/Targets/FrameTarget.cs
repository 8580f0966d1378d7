using Vimage.Fuzz.Engine;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// frame: Ethernet, ARP, IPv4 with options, ICMP and UDP input. An input is a sequence of up to 8 frames, each
/// [control][length][frame]: control bits 0-1 pick the interface (fuzz0, fuzz1, or lo0 taking a bare IP packet),
/// bit 2 fixes the IP header checksum and bit 3 the ICMP/UDP checksum, so mutations reach past the checksums;
/// bits 4-7 of the first frame's control turn on the sysctls <see cref="FuzzStack.Configure"/> names.
/// Anything the stack throws is a crash: ether_input and everything above must drop and count bad frames.
/// </summary>
internal sealed class FrameTarget : IFuzzTarget
{
    public const byte FixIp = 1 << 2;
    public const byte FixTransport = 1 << 3;
    private readonly FuzzStack _stack = new();

    public string Name => "frame";

    public int MaxLength => 8 * 1600;

    public IReadOnlyList<byte[]> Dictionary { get; } =
    [
        [0x08, 0x00], [0x08, 0x06], [0x45, 0x00], [0x46, 0x00], [0x4f, 0x00], [0x20, 0x00], [0x40, 0x00], [0x3f, 0xff],
        [0x00, 0x01, 0x08, 0x00, 0x06, 0x04], [192, 0, 2, 1], [192, 0, 2, 2], [198, 51, 100, 1], [198, 51, 100, 2],
        [127, 0, 0, 1], [255, 255, 255, 255], [224, 0, 0, 1], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], FuzzStack.Mac0, FuzzStack.Mac1,
        [0x07, 0x07, 0x04], [0x83, 0x07, 0x04], [0x89, 0x07, 0x04], [0x44, 0x0c, 0x05, 0x00], [0x94, 0x04, 0x00, 0x00], [0x01], [0x00],
        [0x08, 0x00, 0x00, 0x00], [0x03, 0x03], [0x0b, 0x00], [0x00, 0x07], [0x00, 0x35],
    ];

    public void Run(ReadOnlySpan<byte> input)
    {
        var records = Records.Split(input, 1, 8);
        _stack.Configure(records.Count > 0 ? records[0].Header[0] >> 4 : 0);
        foreach (var (header, body) in records)
        {
            int iface = header[0] & 3;
            int ipAt = iface == 2 ? 0 : 14;
            if (body.Length > ipAt && (iface == 2 || (body.Length >= 14 && body[12] == 0x08 && body[13] == 0x00)))
            {
                Span<byte> ip = body.AsSpan(ipAt);
                if ((header[0] & FixTransport) != 0)
                {
                    FuzzStack.FixTransportChecksum(ip);
                }

                if ((header[0] & FixIp) != 0)
                {
                    FuzzStack.FixIpChecksum(ip);
                }
            }

            _stack.Input(iface, body);
        }

        _stack.EndRun();
    }

    public string? Teardown() => _stack.Teardown();
}
