using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>
/// ipfw's matching and actions over real UDP datagrams between two vnets over an epair (vnet0 over lo0 without
/// VIMAGE): masks, lists, me, tables, ports and ranges, not and or-blocks, via/recv/xmit, count, skipto, deny,
/// reject/unreach in both directions (seen by the sender's socket), and the log lines in dmesg's buffer.
/// </summary>
public sealed class IpfwMatchTests
{
    private const int Wait = 10_000;

    private static T In<T>(Vnet v, Func<T> f) => StackFixture.In(v, f);

    private static IpFwCmd C(IpFwOp op, bool not = false, bool or = false, uint value = 0, IpFwPortRange[]? ports = null, string? ifname = null)
        => new() { Op = op, Not = not, Or = or, Value = value, Ports = ports, Interface = ifname };

    private static IpFwCmd Net(bool source, InAddr a, int len, bool not = false, bool or = false)
        => IpFwCmd.Mask(source, a.Value, IpFwTable.MaskOf(len)).WithFlags(not, or);

    private static IpFwRule R(int n, IpFwAction a, int arg, params IpFwCmd[] cmds)
        => new() { Number = n, Action = a, Argument = arg, Cmds = [C(IpFwOp.Proto, value: IpProto.Udp), C(IpFwOp.In), .. cmds] };

    private static IpFwPortRange[] P(ushort lo, ushort hi) => [new IpFwPortRange(lo, hi)];

    private static void Prime(StackFixture f)
    {
        using var rx = UdpSocket.Create(f.B);
        rx.Bind(InAddr.Any, 65000);
        using var tx = UdpSocket.Create(f.A);
        tx.SendTo("prime"u8, f.AddrB, 65000);
        Assert.Equal(5, rx.ReceiveFrom(new byte[8], out _, out _, Wait));
    }

    private static void Unload(StackFixture f)
    {
        In(f.A, () => { IpFw.Unload(); return 0; });
        In(f.B, () => { IpFw.Unload(); return 0; });
    }

    private static string RecvIf(StackFixture f) => f.TwoVnets ? f.IfB.Name : "lo0";

    [Fact]
    public void Masks_lists_me_tables_ports_not_or_via_count_skipto_and_deny_match_real_datagrams()
    {
        using var f = StackFixture.Create("fwm-match");
        InAddr alias = new(f.AddrA.Value + 9); // .10 on A's side of the link
        In(f.A, () => InAddrs.Add(f.IfA, alias, 24));
        Prime(f);
        try
        {
            IpFwChain b = In(f.B, () => { IpFw.Load(); return IpFw.Chain; });
            In(f.B, () => IpFwTables.GetOrCreate(1).Add(alias.Value, 32, 0, 100));
            var net24 = new InAddr(f.AddrA.Value & 0xffffff00);
            IpFwRule mask = b.Add(R(110, IpFwAction.Count, 0, Net(true, net24, 24), C(IpFwOp.DstMe), C(IpFwOp.DstPort, ports: P(5000, 5010))), 100);
            IpFwRule notA = b.Add(R(120, IpFwAction.Count, 0, Net(true, f.AddrA, 32, not: true)), 100);
            IpFwRule or = b.Add(R(130, IpFwAction.Count, 0, C(IpFwOp.DstPort, or: true, ports: P(5001, 5001)), C(IpFwOp.DstPort, ports: P(6000, 6000))), 100);
            IpFwRule table = b.Add(R(140, IpFwAction.Count, 0, C(IpFwOp.SrcTable, value: 1)), 100);
            IpFwRule list = b.Add(R(150, IpFwAction.Count, 0,
                IpFwCmd.MaskList(true, [alias.Value, InAddr.Parse("198.51.100.0").Value], [0xffffffff, 0xffffff00])), 100);
            IpFwRule recv = b.Add(R(160, IpFwAction.Count, 0, C(IpFwOp.Recv, ifname: RecvIf(f))), 100);
            IpFwRule xmit = b.Add(R(170, IpFwAction.Count, 0, C(IpFwOp.Xmit, ifname: "any")), 100);
            IpFwRule sport = b.Add(R(180, IpFwAction.Count, 0, C(IpFwOp.SrcPort, ports: P(7000, 7000))), 100);
            IpFwRule skip = b.Add(R(190, IpFwAction.Skipto, 300, C(IpFwOp.DstPort, ports: P(6000, 6000))), 100);
            IpFwRule skipped = b.Add(R(200, IpFwAction.Deny, 0, C(IpFwOp.DstPort, ports: P(6000, 6000))), 100);
            IpFwRule deny = b.Add(R(250, IpFwAction.Deny, 0, C(IpFwOp.DstPort, ports: P(5002, 5002))), 100);
            IpFwRule allow = b.Add(R(300, IpFwAction.Allow, 0), 100);
            b.Add(new IpFwRule { Number = 400, Action = IpFwAction.Allow }, 100);

            using var rx1 = UdpSocket.Create(f.B);
            rx1.Bind(InAddr.Any, 5001);
            using var rx2 = UdpSocket.Create(f.B);
            rx2.Bind(InAddr.Any, 5002);
            using var rx3 = UdpSocket.Create(f.B);
            rx3.Bind(InAddr.Any, 6000);
            Send(f, f.AddrA, 7000, 5001);
            Send(f, alias, 7001, 5002);
            Send(f, f.AddrA, 7002, 6000);
            Assert.Equal(1, rx1.ReceiveFrom(new byte[8], out InAddr from1, out ushort port1, Wait));
            Assert.Equal((f.AddrA, (ushort)7000), (from1, port1));
            Assert.Equal(1, rx3.ReceiveFrom(new byte[8], out _, out ushort port3, Wait));
            Assert.Equal(7002, port3);
            Assert.True(Frames.WaitFor(() => deny.Counters.Packets == 1), "the deny rule never saw the datagram to 5002");
            Assert.Equal(0, rx2.QueuedDatagrams);

            Assert.Equal(2, mask.Counters.Packets);   // /24 source, to me, ports 5000-5010: 5001 and 5002
            Assert.Equal(1, notA.Counters.Packets);   // not from A: the alias
            Assert.Equal(2, or.Counters.Packets);     // { dst-port 5001 or dst-port 6000 }
            Assert.Equal(1, table.Counters.Packets);  // table(1) holds the alias
            Assert.Equal(1, list.Counters.Packets);   // alias,198.51.100.0/24
            Assert.Equal(3, recv.Counters.Packets);
            Assert.Equal(0, xmit.Counters.Packets);   // inbound packets have no xmit interface
            Assert.Equal(1, sport.Counters.Packets);
            Assert.Equal(1, skip.Counters.Packets);
            Assert.Equal(0, skipped.Counters.Packets);
            Assert.Equal(2, allow.Counters.Packets);  // 5001, and 6000 after the skipto
            Assert.Equal(29, mask.Counters.Bytes / 2); // IP length: 20 + 8 + 1
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Xmit_via_and_recv_by_name_on_output()
    {
        using var f = StackFixture.Create("fwm-xmit");
        Prime(f);
        try
        {
            IpFwChain a = In(f.A, () => { IpFw.Load(); return IpFw.Chain; });
            string outIf = f.OutboundA.Name;
            static IpFwRule Out(int n, params IpFwCmd[] cmds)
                => new() { Number = n, Action = IpFwAction.Count, Cmds = [C(IpFwOp.Proto, value: IpProto.Udp), C(IpFwOp.In, not: true), C(IpFwOp.DstPort, ports: P(5005, 5005)), .. cmds] };
            IpFwRule xmit = a.Add(Out(100, C(IpFwOp.Xmit, ifname: outIf)), 100);
            IpFwRule xmitOther = a.Add(Out(110, C(IpFwOp.Xmit, ifname: "bogus0")), 100);
            IpFwRule via = a.Add(Out(120, C(IpFwOp.Via, ifname: outIf)), 100);
            IpFwRule notVia = a.Add(Out(130, C(IpFwOp.Via, not: true, ifname: outIf)), 100);
            IpFwRule recvAny = a.Add(Out(140, C(IpFwOp.Recv, ifname: "any")), 100); // locally sent: no receive interface
            IpFwRule deny = a.Add(new IpFwRule
            {
                Number = 150, Action = IpFwAction.Deny,
                Cmds = [C(IpFwOp.Proto, value: IpProto.Udp), C(IpFwOp.DstPort, ports: P(5006, 5006)), C(IpFwOp.Xmit, ifname: outIf)],
            }, 100);
            a.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);

            using var rx = UdpSocket.Create(f.B);
            rx.Bind(InAddr.Any, 5005);
            using var rx6 = UdpSocket.Create(f.B);
            rx6.Bind(InAddr.Any, 5006);
            Send(f, f.AddrA, 7100, 5005);
            Assert.Equal(1, rx.ReceiveFrom(new byte[8], out _, out _, Wait));
            using (var tx = UdpSocket.Create(f.A))
            {
                // xmit on the way out: ip_output answers EACCES for the denied datagram
                Assert.Equal(Errno.EACCES, Assert.Throws<NetSocketException>(() => tx.SendTo([1], f.AddrB, 5006)).Errno);
            }

            Assert.Equal((1, 0, 1, 0, 0, 1), (xmit.Counters.Packets, xmitOther.Counters.Packets, via.Counters.Packets,
                notVia.Counters.Packets, recvAny.Counters.Packets, deny.Counters.Packets));
            Assert.Equal(0, rx6.QueuedDatagrams);
        }
        finally
        {
            Unload(f);
        }
    }

    private static void Send(StackFixture f, InAddr from, ushort sport, ushort dport)
    {
        using var tx = UdpSocket.Create(f.A);
        tx.Bind(from, sport);
        tx.SendTo([1], f.AddrB, dport);
    }

    [Theory]
    [InlineData(IcmpCode.UnreachPort, Errno.ECONNREFUSED)]
    [InlineData(IcmpCode.UnreachHost, Errno.EHOSTUNREACH)] // "reject"
    [InlineData(IcmpCode.UnreachNetProhibited, Errno.ECONNREFUSED)] // icmp_errmap; UDP ignored 9, 10 and 13 before
    [InlineData(IcmpCode.UnreachHostProhibited, Errno.ECONNREFUSED)]
    [InlineData(IcmpCode.UnreachFilterProhibited, Errno.ECONNREFUSED)]
    [InlineData(IcmpCode.UnreachHostUnknown, Errno.EHOSTUNREACH)]
    public void Unreach_on_input_reaches_the_sender_socket(byte code, int errno)
    {
        using var f = StackFixture.Create("fwm-rej-in");
        Prime(f);
        try
        {
            IpFwChain b = In(f.B, () => { IpFw.Load(); return IpFw.Chain; });
            IpFwRule reject = b.Add(R(100, IpFwAction.Reject, code, C(IpFwOp.DstMe), C(IpFwOp.DstPort, ports: P(9, 9))), 100);
            b.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);
            long sent = f.IcmpOut(f.B, IcmpType.Unreach);
            using var client = UdpSocket.Create(f.A);
            client.Connect(f.AddrB, 9);
            client.Send("x"u8);
            var e = Assert.Throws<NetSocketException>(() => client.ReceiveFrom(new byte[8], out _, out _, Wait));
            Assert.Equal(errno, e.Errno);
            Assert.Equal(1, reject.Counters.Packets);
            Assert.Equal(sent + 1, f.IcmpOut(f.B, IcmpType.Unreach));
        }
        finally
        {
            Unload(f);
        }
    }

    [Theory]
    [InlineData(IcmpCode.UnreachPort, Errno.ECONNREFUSED)]
    [InlineData(IcmpCode.UnreachHost, Errno.EHOSTUNREACH)]
    public void Unreach_on_output_sends_the_error_to_the_local_sender(byte code, int errno)
    {
        using var f = StackFixture.Create("fwm-rej-out");
        Prime(f);
        try
        {
            IpFwChain a = In(f.A, () => { IpFw.Load(); return IpFw.Chain; });
            var rule = new IpFwRule
            {
                Number = 100, Action = IpFwAction.Reject, Argument = code,
                Cmds = [C(IpFwOp.Proto, value: IpProto.Udp), C(IpFwOp.In, not: true), Net(false, f.AddrB, 32), C(IpFwOp.DstPort, ports: P(9, 9))],
            };
            IpFwRule reject = a.Add(rule, 100);
            a.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);
            long sent = f.IcmpOut(f.A, IcmpType.Unreach);
            using var client = UdpSocket.Create(f.A);
            client.Connect(f.AddrB, 9);
            // ip_output answers EACCES for the filtered datagram; the ICMP error loops back to the socket
            Assert.Equal(Errno.EACCES, Assert.Throws<NetSocketException>(() => client.Send("x"u8)).Errno);
            Assert.Equal(1, reject.Counters.Packets);
            Assert.Equal(sent + 1, f.IcmpOut(f.A, IcmpType.Unreach));
            var e = Assert.Throws<NetSocketException>(() => client.ReceiveFrom(new byte[8], out _, out _, Wait));
            Assert.Equal(errno, e.Errno);
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Log_lines_follow_ipfw_log_format_and_verbose_limit()
    {
        using var f = StackFixture.Create("fwm-log");
        Prime(f);
        try
        {
            IpFwChain b = In(f.B, () => { IpFw.Load(); MsgBuf.Clear(); return IpFw.Chain; });
            Sysctl.Set("net.inet.ip.fw.verbose", 1, f.B);
            Sysctl.Set("net.inet.ip.fw.verbose_limit", 2, f.B);
            IpFwRule deny = b.Add(new IpFwRule
            {
                Number = 100, Action = IpFwAction.Deny, Log = true,
                Cmds = [C(IpFwOp.Proto, value: IpProto.Udp), C(IpFwOp.In), C(IpFwOp.DstPort, ports: P(5002, 5002))],
            }, 100);
            b.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);
            for (ushort i = 0; i < 3; i++)
            {
                Send(f, f.AddrA, (ushort)(7000 + i), 5002);
            }

            Assert.True(Frames.WaitFor(() => deny.Counters.Packets == 3), $"deny saw {deny.Counters.Packets}");
            string[] lines = In(f.B, MsgBuf.Read);
            string via = RecvIf(f);
            Assert.Equal(
                [
                    $"ipfw: 100 Deny UDP {f.AddrA}:7000 {f.AddrB}:5002 in via {via}",
                    $"ipfw: 100 Deny UDP {f.AddrA}:7001 {f.AddrB}:5002 in via {via}",
                    "ipfw: limit 2 reached on entry 100",
                ],
                lines);
            b.ResetLog();
            Send(f, f.AddrA, 7009, 5002);
            Assert.True(Frames.WaitFor(() => In(f.B, MsgBuf.Read).Length == 4), "resetlog did not restart logging");
        }
        finally
        {
            Sysctl.Set("net.inet.ip.fw.verbose", 0, f.B);
            Sysctl.Set("net.inet.ip.fw.verbose_limit", 0, f.B);
            In(f.B, () => { MsgBuf.Clear(); return 0; });
            Unload(f);
        }
    }

    [Fact]
    public void Table_lookup_is_longest_prefix_and_value_filters()
    {
        var t = new IpFwTable(3);
        Assert.True(t.Add(InAddr.Parse("10.0.0.0").Value, 8, 1, 10));
        Assert.True(t.Add(InAddr.Parse("10.1.0.0").Value, 16, 2, 10));
        Assert.False(t.Add(InAddr.Parse("10.1.2.3").Value, 16, 9, 10)); // same prefix once masked: exists
        Assert.True(t.Lookup(InAddr.Parse("10.1.2.3").Value, out uint v) && v == 2);
        Assert.True(t.Lookup(InAddr.Parse("10.9.2.3").Value, out v) && v == 1);
        Assert.False(t.Lookup(InAddr.Parse("11.0.0.1").Value, out _));
        Assert.True(t.Delete(InAddr.Parse("10.1.0.0").Value, 16));
        Assert.True(t.Lookup(InAddr.Parse("10.1.2.3").Value, out v) && v == 1);
        Assert.Equal(1, t.Count);
        Assert.False(t.Add(InAddr.Parse("12.0.0.0").Value, 8, 0, max: 1)); // full
    }
}

/// <summary>ipfw_chk allocates nothing per packet, whatever instructions the rules use.</summary>
public sealed class IpfwAllocationTests
{
    [Fact]
    public void Matching_every_instruction_kind_allocates_nothing()
    {
        using var t = new Topology();
        Vnet v = Vnet.IsVimage ? t.NewVnet("fw-alloc") : Vnet.Vnet0;
        byte[] udp = new byte[32];
        udp[0] = 0x03; // source port 1000, destination port 53
        udp[1] = 0xe8;
        udp[3] = 53;
        byte[] packet = FragSupport.Packet(InAddr.Parse("192.0.2.9"), InAddr.Parse("127.0.0.1"), 1, IpProto.Udp, 0, false, udp);
        using (Curvnet.Set(v))
        {
            try
            {
                Ifnet lo0 = Ifnets.Find("lo0");
                IpFw.Load();
                IpFwTables.GetOrCreate(2).Add(InAddr.Parse("192.0.2.0").Value, 24, 7, 10);
                static IpFwCmd C(IpFwOp op, bool not = false, bool or = false, uint value = 0, IpFwPortRange[]? ports = null, string? name = null)
                    => new() { Op = op, Not = not, Or = or, Value = value, Ports = ports, Interface = name };
                IpFwRule counted = IpFw.Chain.Add(new IpFwRule
                {
                    Number = 100, Action = IpFwAction.Count,
                    Cmds =
                    [
                        C(IpFwOp.Proto, or: true, value: IpProto.Icmp), C(IpFwOp.Proto, value: IpProto.Udp),
                        C(IpFwOp.SrcTable, value: 2, ports: [new IpFwPortRange(7, 7)]),
                        IpFwCmd.MaskList(false, [InAddr.Parse("10.0.0.0").Value, InAddr.Parse("127.0.0.1").Value], [0xff000000, 0xffffffff]),
                        C(IpFwOp.DstMe), C(IpFwOp.SrcMe, not: true),
                        C(IpFwOp.DstPort, ports: [new IpFwPortRange(1, 100)]), C(IpFwOp.In),
                        C(IpFwOp.Xmit, or: true, name: "lo0"), C(IpFwOp.Recv, name: "lo0"), C(IpFwOp.Via, name: "any"),
                    ],
                }, 100);
                IpFw.Chain.Add(new IpFwRule { Number = 200, Action = IpFwAction.Skipto, Argument = 300, Cmds = [] }, 100);
                IpFw.Chain.Add(new IpFwRule { Number = 300, Action = IpFwAction.Deny, Cmds = [C(IpFwOp.IcmpTypes, not: true, value: 1)] }, 100);
                const int rounds = 1000, windows = 5;
                long allocated = long.MaxValue;
                for (int w = 0; w < windows && allocated != 0; w++)
                {
                    var mbufs = new Mbuf[rounds];
                    for (int i = 0; i < rounds; i++)
                    {
                        mbufs[i] = FragSupport.Mbuf(packet);
                        mbufs[i].ReceiveInterface = lo0;
                    }

                    long before = GC.GetAllocatedBytesForCurrentThread();
                    foreach (Mbuf m in mbufs)
                    {
                        IpFw.Check(m, lo0, Pfil.PfilDir.In, 0, 0); // count, skipto, then deny frees it
                    }

                    allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                }

                Assert.Equal(0, allocated);
                Assert.True(counted.Counters.Packets >= rounds, $"the count rule matched {counted.Counters.Packets}");
            }
            finally
            {
                IpFw.Unload();
            }
        }
    }
}
