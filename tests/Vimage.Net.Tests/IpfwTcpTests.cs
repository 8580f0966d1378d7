using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>
/// ipfw's TCP options (setup, established, tcpflags, tcpoptions, tcpseq, tcpwin) and TCP port matching over real
/// TCP connections between two vnets over an epair (vnet0 over lo0 without VIMAGE); the rules are in B, inbound.
/// </summary>
public sealed class IpfwTcpTests
{
    private const int Wait = 10_000;
    private const byte Syn = 0x02, Ack = 0x10, Rst = 0x04;

    private static T In<T>(Vnet v, Func<T> f) => StackFixture.In(v, f);

    private static IpFwCmd C(IpFwOp op, bool not = false, uint value = 0, IpFwPortRange[]? ports = null)
        => new() { Op = op, Not = not, Value = value, Ports = ports };

    /// <summary>A rule "ACTION tcp from any to any in OPTIONS".</summary>
    private static IpFwRule R(int n, IpFwAction a, params IpFwCmd[] cmds)
        => new() { Number = n, Action = a, Cmds = [C(IpFwOp.Proto, value: IpProto.Tcp), C(IpFwOp.In), .. cmds] };

    /// <summary>"ACTION tcp from any to any 8081 in OPTIONS": the client's segments only (over lo0 both ways arrive "in").</summary>
    private static IpFwRule ToServer(int n, params IpFwCmd[] cmds)
        => R(n, IpFwAction.Count, [C(IpFwOp.DstPort, ports: [new IpFwPortRange(8081, 8081)]), .. cmds]);

    private static IpFwChain LoadB(StackFixture f) => In(f.B, () => { IpFw.Load(); return IpFw.Chain; });

    private static void Unload(StackFixture f) => In(f.B, () => { IpFw.Unload(); return 0; });

    private static void Exchange(TcpSocket c, TcpSocket s)
    {
        Assert.Equal(4, c.Send("ping"u8));
        Assert.Equal("ping"u8.ToArray(), TcpConnectionTests.ReadExactly(s, 4));
        Assert.Equal(4, s.Send("pong"u8));
        Assert.Equal("pong"u8.ToArray(), TcpConnectionTests.ReadExactly(c, 4));
    }

    /// <summary>A connect from A to B's <paramref name="port"/> times out: every SYN was dropped.</summary>
    private static void ConnectTimesOut(StackFixture f, ushort port)
    {
        using var client = TcpSocket.Create(f.A);
        client.Bind(f.AddrA, 0);
        var e = Assert.Throws<NetSocketException>(() => client.Connect(f.AddrB, port, 1_500));
        Assert.Equal(NetSocketException.EAGAIN, e.Errno);
    }

    [Fact]
    public void Deny_setup_stops_new_connections_while_established_ones_keep_flowing()
    {
        using var f = StackFixture.Create("fwtcp-setup");
        using TcpSocket listener = TcpConnectionTests.Listen(f, 8080);
        (TcpSocket c, TcpSocket s) = TcpConnectionTests.Pair(f, listener, 8080);
        try
        {
            IpFwChain b = LoadB(f);
            IpFwRule estab = b.Add(R(50, IpFwAction.Count, C(IpFwOp.Estab)), 100);
            IpFwRule both = b.Add(R(60, IpFwAction.Count, C(IpFwOp.Estab), C(IpFwOp.TcpFlags, value: Syn | (Ack << 8))), 100);
            IpFwRule setup = b.Add(R(100, IpFwAction.Deny, C(IpFwOp.TcpFlags, value: Syn | (Ack << 8))), 100);
            b.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);

            Exchange(c, s); // the connection made before the rule carries on
            Assert.Equal(0, setup.Counters.Packets);
            long established = estab.Counters.Packets;
            Assert.True(established >= 1, "established never matched the data segment");

            ConnectTimesOut(f, 8080);
            Assert.True(setup.Counters.Packets >= 1, "the setup rule never saw the SYN");
            Assert.Equal(0, both.Counters.Packets); // a bare SYN is "setup", never "established"

            Exchange(c, s);
            Assert.True(estab.Counters.Packets > established);
        }
        finally
        {
            Unload(f);
            c.Dispose();
            s.Dispose();
        }
    }

    [Fact]
    public void Tcpflags_tcpoptions_tcpseq_and_tcpwin_match_the_segments_they_name()
    {
        using var f = StackFixture.Create("fwtcp-flags");
        using TcpSocket listener = TcpConnectionTests.Listen(f, 8081);
        IpFwChain b = LoadB(f);
        try
        {
            IpFwRule synOnly = b.Add(ToServer(100, C(IpFwOp.TcpFlags, value: Syn | (Ack << 8))), 100);
            IpFwRule anyAck = b.Add(ToServer(110, C(IpFwOp.TcpFlags, value: Ack)), 100);
            IpFwRule rst = b.Add(ToServer(120, C(IpFwOp.TcpFlags, value: Rst)), 100);
            IpFwRule synOpts = b.Add(ToServer(130, C(IpFwOp.TcpOpts, value: IpFwTcp.OptMss | IpFwTcp.OptWindow | IpFwTcp.OptTs)), 100);
            IpFwRule noMss = b.Add(ToServer(140, C(IpFwOp.TcpOpts, value: (uint)IpFwTcp.OptMss << 8)), 100);
            IpFwRule notSetup = b.Add(ToServer(150, C(IpFwOp.TcpFlags, not: true, value: Syn | (Ack << 8))), 100);
            IpFwRule anyWin = b.Add(ToServer(160, C(IpFwOp.TcpWin, ports: [new IpFwPortRange(1, 65535)])), 100);
            IpFwRule zeroWin = b.Add(ToServer(170, C(IpFwOp.TcpWin, value: 0)), 100);
            b.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);

            (TcpSocket c, TcpSocket s) = TcpConnectionTests.Pair(f, listener, 8081);
            using (c)
            using (s)
            {
                Assert.True(Frames.WaitFor(() => anyAck.Counters.Packets >= 1, Wait), "the handshake's ACK never arrived");
                Assert.Equal(1, synOnly.Counters.Packets);
                Assert.Equal(1, synOpts.Counters.Packets); // only the SYN carries MSS, window scale and timestamps

                // tcpseq: the next data segment's sequence number is the client's snd_nxt now
                uint seq = c.Tcpcb.snd_nxt;
                IpFwRule bySeq = b.Add(ToServer(155, C(IpFwOp.TcpSeq, value: seq)), 100);
                Exchange(c, s);
                Assert.True(Frames.WaitFor(() => bySeq.Counters.Packets == 1, Wait), $"tcpseq {seq} matched {bySeq.Counters.Packets}");

                // every segment after the SYN: has ACK, is not setup, has no MSS; every one has a window
                Assert.True(Frames.WaitFor(() => noMss.Counters.Packets == notSetup.Counters.Packets
                    && notSetup.Counters.Packets == anyAck.Counters.Packets
                    && anyWin.Counters.Packets == anyAck.Counters.Packets + 1, Wait),
                    $"ack {anyAck.Counters.Packets}, !setup {notSetup.Counters.Packets}, !mss {noMss.Counters.Packets}, win {anyWin.Counters.Packets}");
                Assert.True(anyAck.Counters.Packets >= 2); // the handshake's ACK and the data
                Assert.Equal(0, rst.Counters.Packets);
                Assert.Equal(0, zeroWin.Counters.Packets);
            }
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Tcp_destination_port_rule_refuses_one_port_and_lets_another_connect()
    {
        using var f = StackFixture.Create("fwtcp-ports");
        using TcpSocket denied = TcpConnectionTests.Listen(f, 7180);
        using TcpSocket allowed = TcpConnectionTests.Listen(f, 7181);
        IpFwChain b = LoadB(f);
        try
        {
            // deny tcp from A to B 7180: as "ipfw add 100 deny tcp from A to B 7180"
            IpFwRule deny = b.Add(new IpFwRule
            {
                Number = 100, Action = IpFwAction.Deny, Protocol = IpProto.Tcp, Source = IpFwAddr.Net(f.AddrA.Value, 32),
                Destination = IpFwAddr.Net(f.AddrB.Value, 32), DestinationPorts = [new IpFwPortRange(7180, 7180)],
            }, 100);
            b.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);

            (TcpSocket c, TcpSocket s) = TcpConnectionTests.Pair(f, allowed, 7181);
            using (c)
            using (s)
            {
                Exchange(c, s);
            }

            Assert.Equal(0, deny.Counters.Packets);
            ConnectTimesOut(f, 7180);
            Assert.True(deny.Counters.Packets >= 1);
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Unreach_port_on_a_syn_refuses_the_tcp_connect()
    {
        using var f = StackFixture.Create("fwtcp-unreach");
        using TcpSocket listener = TcpConnectionTests.Listen(f, 8083);
        IpFwChain b = LoadB(f);
        try
        {
            // "unreach port tcp from any to any 8083 setup in": tcp_ctlinput drops the SYN_SENT connection (tcp_drop_syn_sent)
            IpFwRule refuse = b.Add(new IpFwRule
            {
                Number = 100, Action = IpFwAction.Reject, Argument = IcmpCode.UnreachPort,
                Cmds = [C(IpFwOp.Proto, value: IpProto.Tcp), C(IpFwOp.In), C(IpFwOp.DstPort, ports: [new IpFwPortRange(8083, 8083)]),
                    C(IpFwOp.TcpFlags, value: Syn | (Ack << 8))],
            }, 100);
            b.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);
            long sent = f.IcmpOut(f.B, IcmpType.Unreach);
            using var client = TcpSocket.Create(f.A);
            client.Bind(f.AddrA, 0);
            var e = Assert.Throws<NetSocketException>(() => client.Connect(f.AddrB, 8083, Wait));
            Assert.Equal(Errno.ECONNREFUSED, e.Errno);
            Assert.Equal(1, refuse.Counters.Packets);
            Assert.Equal(sent + 1, f.IcmpOut(f.B, IcmpType.Unreach));
        }
        finally
        {
            Unload(f);
        }
    }
}
