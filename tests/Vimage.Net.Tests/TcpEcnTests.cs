using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Pfil;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>RFC 3168 ECN as tcp_ecn.c does it: negotiation per net.inet.tcp.ecn.enable, ECT(0), CE → ECE → CWR.</summary>
public class TcpEcnTests
{
    private const string TwoStacks = "each end needs its own net.inet.tcp.ecn.enable: two vnets over an epair";

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    private static bool Permit(TcpSocket s) => (s.Tcpcb.t_flags2 & TcpCbFlags2.TF2_ECN_PERMIT) != 0;

    [SkippableTheory]
    [InlineData(1, 2, true)] // FreeBSD's default server side accepts a client that asks
    [InlineData(1, 1, true)]
    [InlineData(2, 2, false)] // nobody asks
    [InlineData(0, 1, false)]
    [InlineData(1, 0, false)] // the server refuses: its SYN-ACK has no ECE
    public void NegotiationFollowsEcnEnableOnBothEnds(int client, int server, bool expected)
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create($"tcpecn{client}{server}");
        using var knobs = new SysctlScope().Set("net.inet.tcp.ecn.enable", client, net.A).Set("net.inet.tcp.ecn.enable", server, net.B);
        long shsA = T(net.A, TcpStat.tcps_ecn_shs), shsB = T(net.B, TcpStat.tcps_ecn_shs);
        using TcpSocket listener = Listen(net, 7100);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7100);
        using (c)
        using (s)
        {
            Assert.Equal(expected, Permit(c));
            Assert.Equal(expected, Permit(s));
            Assert.Equal(expected ? 1 : 0, T(net.A, TcpStat.tcps_ecn_shs) - shsA);
            Assert.Equal(expected ? 1 : 0, T(net.B, TcpStat.tcps_ecn_shs) - shsB);
            long ect = T(net.B, TcpStat.tcps_ecn_ect0);
            c.Send(new byte[3000]);
            ReadExactly(s, 3000);
            Assert.Equal(expected, T(net.B, TcpStat.tcps_ecn_ect0) > ect); // data goes ECT(0) only when negotiated
        }
    }

    [SkippableFact]
    public void ACeMarkIsEchoedUntilCwrAndTheSenderReducesCwndOnce()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcpecnce");
        using var knobs = new SysctlScope().Set("net.inet.tcp.ecn.enable", 1, net.A, net.B);
        using TcpSocket listener = Listen(net, 7101);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7101);
        using (c)
        using (s)
        {
            Assert.True(Permit(c));
            ushort cport = c.LocalPort;
            int dataSegments = 0, cwrs = 0, eces = 0;
            uint cwndAtMark = 0;

            // A router's AQM: CE on the 4th and 5th data segments (ECT(0) → CE, IP checksum fixed); counts CWR.
            PfilHook mark = (m, ifp, dir, hop) =>
            {
                Span<byte> p = m.Data;
                if (p[9] != IpProto.Tcp || BinaryPrimitives.ReadUInt16BigEndian(p[20..]) != cport)
                {
                    return PfilResult.Pass;
                }

                int len = BinaryPrimitives.ReadUInt16BigEndian(p[2..]) - 20 - ((p[32] >> 4) * 4);
                if ((p[33] & (byte)TcpFlags.TH_CWR) != 0)
                {
                    cwrs++;
                }

                if (len > 0 && ++dataSegments is 4 or 5)
                {
                    Assert.Equal(Tcp.Tcp.IPTOS_ECN_ECT0, p[1] & 3);
                    cwndAtMark = cwndAtMark == 0 ? c.Tcpcb.snd_cwnd : cwndAtMark;
                    ushort old = BinaryPrimitives.ReadUInt16BigEndian(p);
                    p[1] |= Tcp.Tcp.IPTOS_ECN_CE;
                    BinaryPrimitives.WriteUInt16BigEndian(p[10..], Checksum.Update(BinaryPrimitives.ReadUInt16BigEndian(p[10..]), old, BinaryPrimitives.ReadUInt16BigEndian(p)));
                }

                return PfilResult.Pass;
            };
            using var echoes = new TcpDropHook(net.A, (sp, dp, f, len) =>
            {
                if (dp == cport && (f & TcpFlags.TH_ECE) != 0)
                {
                    eces++;
                }

                return false;
            });
            using (Curvnet.Set(net.B))
            {
                PfilHeads.Link(mark, PfilDir.In);
            }

            long ce = T(net.B, TcpStat.tcps_ecn_ce), rcwnd = T(net.A, TcpStat.tcps_ecn_rcwnd), rexmit = T(net.A, TcpStat.tcps_sndrexmitpack);
            try
            {
                c.NoDelay = true;
                c.Send(new byte[30_000]);
                ReadExactly(s, 30_000);
            }
            finally
            {
                using (Curvnet.Set(net.B))
                {
                    PfilHeads.Unlink(mark);
                }
            }

            Assert.Equal(2, T(net.B, TcpStat.tcps_ecn_ce) - ce);
            Assert.True(eces > 0);
            Assert.Equal(1, T(net.A, TcpStat.tcps_ecn_rcwnd) - rcwnd); // two marks in one window: one reduction
            Assert.Equal(1, cwrs);
            Assert.True(c.Tcpcb.snd_ssthresh < cwndAtMark, $"ssthresh {c.Tcpcb.snd_ssthresh} cwnd at the mark {cwndAtMark}");
            Assert.Equal(0, T(net.A, TcpStat.tcps_sndrexmitpack) - rexmit); // nothing was lost
            Assert.Equal(TcpCbFlags2.None, s.Tcpcb.t_flags2 & TcpCbFlags2.TF2_ECN_SND_ECE); // the CWR stopped the echo
        }
    }
}
