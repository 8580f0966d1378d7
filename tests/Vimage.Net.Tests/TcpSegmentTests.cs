using System.Buffers.Binary;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>tcp_seq.h arithmetic, struct tcphdr, the pseudo-header checksum and tcp_dooptions / tcp_addoptions.</summary>
public class TcpSegmentTests
{
    [Fact]
    public void SequenceComparisonsWrapModulo2To32()
    {
        Assert.True(TcpSeq.Lt(0xffff_fff0, 0x10));
        Assert.True(TcpSeq.Gt(0x10, 0xffff_fff0));
        Assert.True(TcpSeq.Leq(5, 5));
        Assert.True(TcpSeq.Geq(5, 5));
        Assert.False(TcpSeq.Lt(5, 5));
        Assert.Equal(0x20, TcpSeq.Delta(0x10, 0xffff_fff0));
        Assert.Equal(-0x20, TcpSeq.Delta(0xffff_fff0, 0x10));
        Assert.Equal(0xffff_fff0u, TcpSeq.Min(0x10, 0xffff_fff0));
        Assert.Equal(0x10u, TcpSeq.Max(0x10, 0xffff_fff0));
        Assert.True(TcpSeq.Lt(0, 0x7fff_ffff));
        Assert.True(TcpSeq.Gt(0, 0x8000_0001)); // more than 2^31 apart: the other way round
    }

    [Fact]
    public void HeaderRoundTripsAndChecksumVerifiesWithPacketDotNet()
    {
        InAddr src = InAddr.Parse("192.0.2.1"), dst = InAddr.Parse("198.51.100.7");
        byte[] seg = new byte[TcpHeader.MinLength + 4 + 3];
        var th = new TcpHeader(40000, 80, 0xfffffffe, 0x12345678, 24, TcpFlags.TH_SYN | TcpFlags.TH_ACK, 65535, 0);
        th.Write(seg);
        var to = new TcpOpt { Flags = TcpOptFlags.TOF_MSS, Mss = 1460 };
        Assert.Equal(4, TcpOptions.Write(in to, seg.AsSpan(TcpHeader.MinLength)));
        "abc"u8.CopyTo(seg.AsSpan(24));
        TcpHeader.SetChecksum(seg, src, dst);

        Assert.Equal(th, TcpHeader.Read(seg));
        Assert.True(TcpHeader.ChecksumValid(seg, src, dst));
        Assert.False(TcpHeader.ChecksumValid(seg, src, InAddr.Parse("198.51.100.8"))); // the pseudo-header counts

        var ip = new PacketDotNet.IPv4Packet(
            System.Net.IPAddress.Parse(src.ToString()), System.Net.IPAddress.Parse(dst.ToString()));
        var tcp = new PacketDotNet.TcpPacket(new PacketDotNet.Utils.ByteArraySegment(seg)) { ParentPacket = ip };
        ip.PayloadPacket = tcp;
        Assert.True(tcp.ValidTcpChecksum);
        Assert.Equal((ushort)40000, tcp.SourcePort);
        Assert.Equal(0xfffffffeu, tcp.SequenceNumber);
        Assert.True(tcp.Synchronize && tcp.Acknowledgment);
        Assert.Equal("abc"u8.ToArray(), tcp.PayloadData);

        seg[^1] ^= 1;
        Assert.False(TcpHeader.ChecksumValid(seg, src, dst));
    }

    [Fact]
    public void SynOptionsAreWrittenInFreeBsdsLayoutAndParsedBack()
    {
        var to = new TcpOpt
        {
            Flags = TcpOptFlags.TOF_MSS | TcpOptFlags.TOF_SCALE | TcpOptFlags.TOF_SACKPERM | TcpOptFlags.TOF_TS,
            Mss = 1460,
            WScale = 6,
            TsVal = 0x01020304,
            TsEcr = 0,
        };
        byte[] opts = new byte[TcpHeader.MaxOptionLength];
        int n = TcpOptions.Write(in to, opts);

        // MSS, NOP, WS, SACK_PERMITTED, TIMESTAMP: what a FreeBSD SYN carries (tcp_addoptions' alignment).
        byte[] expected = [2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0];
        Assert.Equal(expected, opts[..n]);

        TcpOpt parsed = TcpOptions.Parse(opts.AsSpan(0, n), TcpOptContext.TO_SYN);
        Assert.Equal(to.Flags, parsed.Flags);
        Assert.Equal(1460, parsed.Mss);
        Assert.Equal(6, parsed.WScale);
        Assert.Equal(0x01020304u, parsed.TsVal);

        // Timestamps alone (every segment of an RFC 7323 connection): NOP NOP TS, 12 bytes.
        var ts = new TcpOpt { Flags = TcpOptFlags.TOF_TS, TsVal = 7, TsEcr = 9 };
        Assert.Equal(12, TcpOptions.Write(in ts, opts));
        Assert.Equal(new byte[] { 1, 1, 8, 10 }, opts[..4]);
        TcpOpt back = TcpOptions.Parse(opts.AsSpan(0, 12), TcpOptContext.None);
        Assert.Equal((TcpOptFlags.TOF_TS, 7u, 9u), (back.Flags, back.TsVal, back.TsEcr));
    }

    [Fact]
    public void SynOnlyOptionsAreIgnoredOnOtherSegmentsAndScaleIsClamped()
    {
        byte[] opts = [2, 4, 0x05, 0xb4, 3, 3, 200, 4, 2, 0];
        TcpOpt syn = TcpOptions.Parse(opts, TcpOptContext.TO_SYN);
        Assert.Equal(TcpOptFlags.TOF_MSS | TcpOptFlags.TOF_SCALE | TcpOptFlags.TOF_SACKPERM, syn.Flags);
        Assert.Equal(TcpOptions.MaxWinShift, syn.WScale);

        Assert.Equal(TcpOptFlags.None, TcpOptions.Parse(opts, TcpOptContext.None).Flags);
    }

    [Fact]
    public void SackBlocksAreFoundOnlyOffSynAndWithWholeBlocks()
    {
        byte[] opts = new byte[2 + 2 + 16];
        opts[0] = 1;
        opts[1] = 1;
        opts[2] = TcpOptions.TCPOPT_SACK;
        opts[3] = 18;
        BinaryPrimitives.WriteUInt32BigEndian(opts.AsSpan(4), 1000);
        TcpOpt to = TcpOptions.Parse(opts, TcpOptContext.None);
        Assert.Equal(TcpOptFlags.TOF_SACK, to.Flags);
        Assert.Equal(2, to.NSacks);
        Assert.Equal(1000u, BinaryPrimitives.ReadUInt32BigEndian(opts.AsSpan(to.SackOffset)));
        Assert.Equal(TcpOptFlags.None, TcpOptions.Parse(opts, TcpOptContext.TO_SYN).Flags);

        opts[3] = 13; // not a whole number of blocks: skipped
        Assert.Equal(TcpOptFlags.None, TcpOptions.Parse(opts.AsSpan(0, 15), TcpOptContext.None).Flags);
    }

    [Theory]
    [InlineData(new byte[] { 2 })] // kind without length
    [InlineData(new byte[] { 2, 0, 5, 0xb4 })] // length 0 would loop forever
    [InlineData(new byte[] { 2, 1, 5, 0xb4 })] // length 1
    [InlineData(new byte[] { 2, 40, 5, 0xb4 })] // longer than what is left
    [InlineData(new byte[] { 2, 3, 5, 0xb4 })] // wrong MSS length: skipped, then a truncated option
    [InlineData(new byte[] { 8, 10, 0, 0, 0, 0 })] // truncated timestamps
    [InlineData(new byte[] { 99, 2, 3, 2, 1 })] // unknown kind skipped; window scale of the wrong length skipped
    public void MalformedOptionsEndTheWalkWithoutEffect(byte[] opts)
    {
        TcpOpt to = TcpOptions.Parse(opts, TcpOptContext.TO_SYN);
        Assert.Equal(TcpOptFlags.None, to.Flags);
    }

    [Fact]
    public void OptionsAfterEolAreIgnored()
    {
        byte[] opts = [1, 0, 2, 4, 5, 0xb4];
        Assert.Equal(TcpOptFlags.None, TcpOptions.Parse(opts, TcpOptContext.TO_SYN).Flags);
    }
}
