using Vimage.Fuzz.Engine;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// reass: IP reassembly (ip_reass) over sequences of up to 32 fragments, each [length][IPv4 packet]. Every
/// fragment arrives on fuzz0 in an Ethernet frame to its address with its header checksum set, so the mutations
/// spend their effort on ids, offsets, flags, lengths and overlaps. Queues left incomplete are drained after each
/// input; the buffers they held must all come back to the pool by the end of the run.
/// </summary>
internal sealed class ReassTarget : IFuzzTarget
{
    private readonly FuzzStack _stack = new();

    public string Name => "reass";

    public int MaxLength => 32 * 600;

    public IReadOnlyList<byte[]> Dictionary { get; } =
    [
        [0x20, 0x00], [0x20, 0x01], [0x00, 0x01], [0x1f, 0xff], [0x3f, 0xff], [0x40, 0x00], [0x00, 0x00], [0x05, 0xdc],
        [0xff, 0xff], [0x45, 0x00], [0x46, 0x00], [192, 0, 2, 1], [192, 0, 2, 2], [198, 51, 100, 2], [0x01], [0x11],
    ];

    public void Run(ReadOnlySpan<byte> input)
    {
        foreach (var (_, packet) in Records.Split(input, 0, 32))
        {
            FuzzStack.FixIpChecksum(packet);
            byte[] frame = new byte[14 + packet.Length];
            FuzzStack.Mac0.CopyTo(frame, 0);
            FuzzStack.PeerMac.CopyTo(frame, 6);
            frame[12] = 0x08;
            packet.CopyTo(frame, 14);
            _stack.Input(0, frame);
        }

        _stack.EndRun();
    }

    public string? Teardown() => _stack.Teardown();
}
