using System.Buffers.Binary;
using System.Text;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Route;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>
/// The domain / protocol switch and the socket layer: a transport protocol registered from this assembly runs
/// under the stack's own sockets, raw IP sockets see and inject datagrams, socreate's errors, shutdown, options
/// and the ephemeral port range sysctls.
/// </summary>
[Collection("ProtocolSwitch")] // the toy protocol is a global registration: its tests do not overlap
public sealed class ProtocolSwitchTests
{
    private const int Wait = 10_000;

    [Fact]
    public void A_toy_transport_registered_from_outside_echoes_through_the_stack()
    {
        var toy = new EchoProtosw();
        InetDomain.Register(toy);
        try
        {
            using var net = StackFixture.Create("toy");
            using Socket so = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, EchoProtosw.Number);
            Assert.Same(toy, so.Proto);
            long deliveredBefore = StackFixture.In(net.B, () => Ip.Fetch(IpStat.ips_delivered));

            Assert.Equal(5, so.SendTo("hello"u8, net.AddrB.ToSockaddr()));
            byte[] buffer = new byte[64];
            SocketReceiveResult r = so.Receive(buffer, Wait);

            Assert.Equal("hello", Encoding.ASCII.GetString(buffer, 0, r.BytesReceived));
            Assert.Equal(net.AddrB, InAddr.From(r.From)); // the echo came back from B's stack
            Assert.Equal(1, toy.Echoed);
            Assert.True(StackFixture.In(net.B, () => Ip.Fetch(IpStat.ips_delivered)) > deliveredBefore);
        }
        finally
        {
            InetDomain.Unregister(toy);
        }

        // Gone again: the protocol number is unknown to socket() (the raw wildcard does not serve SOCK_DGRAM).
        using var after = StackFixture.Create("toygone");
        var e = Assert.Throws<NetSocketException>(() => Socket.Create(after.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, EchoProtosw.Number));
        Assert.Equal(Errno.EPROTONOSUPPORT, e.Errno);
    }

    [Fact]
    public void Socreate_reports_unknown_families_types_and_protocols()
    {
        using var net = StackFixture.Create("socreate");
        Assert.Equal(Errno.EAFNOSUPPORT, Assert.Throws<NetSocketException>(() => Socket.Create(net.A, SaFamily.AF_INET6, SockType.SOCK_DGRAM, 0)).Errno);
        Assert.Equal(Errno.EPROTOTYPE, Assert.Throws<NetSocketException>(() => Socket.Create(net.A, SaFamily.AF_INET, (SockType)5, 0)).Errno); // SOCK_SEQPACKET

        // SOCK_STREAM finds TCP's entry (protocol 0 is its default).
        using (Socket tcp = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_STREAM, 0))
        {
            Assert.Same(Vimage.Net.Tcp.Tcp.Protosw, tcp.Proto);
            Assert.Equal((int)SockType.SOCK_STREAM, tcp.GetOption(SoOption.SO_TYPE));
        }

        Assert.Equal(Errno.EPROTONOSUPPORT, Assert.Throws<NetSocketException>(() => Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, 99)).Errno);
        using Socket udp = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, 0);
        Assert.Same(Udp.Udp.Protosw, udp.Proto);
        Assert.Equal((int)SockType.SOCK_DGRAM, udp.GetOption(SoOption.SO_TYPE));
    }

    [Fact]
    public void A_raw_socket_receives_whole_datagrams_of_its_protocol()
    {
        using var net = StackFixture.Create("rawrx");
        using Socket rx = Socket.Create(net.B, SaFamily.AF_INET, SockType.SOCK_RAW, 254);
        using Socket tx = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_RAW, 254);
        tx.Bind(net.AddrA.ToSockaddr());
        long noprotoBefore = StackFixture.In(net.B, () => Ip.Fetch(IpStat.ips_noproto));

        tx.SendTo("raw!"u8, net.AddrB.ToSockaddr());
        byte[] buffer = new byte[128];
        SocketReceiveResult r = rx.Receive(buffer, Wait);

        Assert.Equal(24, r.BytesReceived); // the IP header comes with it
        var ip = new IpHeader(buffer.AsSpan(0, r.BytesReceived));
        Assert.Equal(254, ip.Protocol);
        Assert.Equal(net.AddrA, ip.Source);
        Assert.Equal(net.AddrA, InAddr.From(r.From));
        Assert.Equal("raw!", Encoding.ASCII.GetString(buffer, 20, 4));
        Assert.Equal(noprotoBefore, StackFixture.In(net.B, () => Ip.Fetch(IpStat.ips_noproto)));
    }

    [Fact]
    public void Without_a_raw_socket_an_unknown_protocol_is_unreachable_and_counted()
    {
        using var net = StackFixture.Create("rawnone");
        using Socket tx = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_RAW, 252);
        tx.Bind(net.AddrA.ToSockaddr());
        tx.Connect(net.AddrB.ToSockaddr()); // hears only B, so not its own datagram when A and B are one vnet
        long noproto = StackFixture.In(net.B, () => Ip.Fetch(IpStat.ips_noproto));
        long unreachOut = net.IcmpOut(net.B, IcmpType.Unreach);

        tx.Send("x"u8);

        Assert.True(Frames.WaitFor(() => StackFixture.In(net.B, () => Ip.Fetch(IpStat.ips_noproto)) == noproto + 1, Wait));
        Assert.True(Frames.WaitFor(() => net.IcmpOut(net.B, IcmpType.Unreach) == unreachOut + 1, Wait));
    }

    [Fact]
    public void IP_HDRINCL_injects_a_hand_made_datagram_into_the_vnet()
    {
        using var net = StackFixture.Create("hdrincl");
        using var server = UdpSocket.Create(net.B);
        server.Bind(InAddr.Any, 4242);
        using Socket raw = Socket.Create(net.B, SaFamily.AF_INET, SockType.SOCK_RAW, IpProto.Udp);
        Assert.Equal(1, raw.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_HDRINCL, set: true, 1));

        // A datagram from a source B has never heard of, written by hand: ip_id and checksum left for the stack.
        var forged = InAddr.Parse("198.51.100.7");
        byte[] packet = new byte[20 + 8 + 3];
        IpHeader.Write(packet, packet.Length, 0, 0, 64, IpProto.Udp, forged, net.AddrB);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), 0); // no checksum: SendRaw computes it
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), 9999);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(22), 4242);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), 11);
        "abc"u8.CopyTo(packet.AsSpan(28)); // UDP checksum 0: none

        Assert.Equal(packet.Length, raw.SendTo(packet, net.AddrB.ToSockaddr()));
        byte[] buffer = new byte[16];
        UdpReceiveResult r = server.Receive(buffer, Wait);
        Assert.Equal((forged, (ushort)9999), (r.RemoteAddress, r.RemotePort));
        Assert.Equal("abc", Encoding.ASCII.GetString(buffer, 0, r.BytesReceived));

        // rip_output's checks: ip_len must be the length sent.
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 100);
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => raw.SendTo(packet, net.AddrB.ToSockaddr())).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => raw.SendTo(packet.AsSpan(0, 10), net.AddrB.ToSockaddr())).Errno);
    }

    [Fact]
    public void A_raw_icmp_socket_sees_the_echo_reply_to_its_request()
    {
        using var net = StackFixture.Create("rawicmp");
        using Socket icmp = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_RAW, IpProto.Icmp);
        byte[] echo = new byte[8 + 4];
        echo[0] = IcmpType.Echo;
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(4), 0x4d2);
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(6), 7);
        "ping"u8.CopyTo(echo.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(2), Checksum.Compute(echo));

        icmp.SendTo(echo, net.AddrB.ToSockaddr());

        byte[] buffer = new byte[128];
        while (true)
        {
            SocketReceiveResult r = icmp.Receive(buffer, Wait); // EAGAIN (the test fails) if no reply comes
            int hlen = (buffer[0] & 0x0f) * 4;
            if (buffer[hlen] == IcmpType.EchoReply)
            {
                Assert.Equal(0x4d2, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(hlen + 4)));
                Assert.Equal("ping", Encoding.ASCII.GetString(buffer, hlen + 8, 4));
                Assert.Equal(net.AddrB, InAddr.From(r.From));
                return;
            }
        }
    }

    [Fact]
    public async Task Shutdown_wakes_a_waiting_reader_and_refuses_sends()
    {
        using var net = StackFixture.Create("shut");
        using Socket so = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, IpProto.Udp);
        so.Connect(net.AddrB.ToSockaddr(9));
        ValueTask<SocketReceiveResult> pending = so.ReceiveAsync(new byte[8]);
        Assert.False(pending.IsCompleted);

        so.Shutdown(ShutdownHow.SHUT_RD);
        SocketReceiveResult end = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, end.BytesReceived);
        Assert.Equal(0, so.Receive(new byte[8], 0).BytesReceived); // end of data, at once
        Assert.Equal(SocketState.SS_ISCONNECTED | SocketState.SS_CANTRCVMORE, so.State);

        so.Shutdown(ShutdownHow.SHUT_WR);
        Assert.Equal(Errno.EPIPE, Assert.Throws<NetSocketException>(() => so.Send("x"u8)).Errno);

        // Not connected: ENOTCONN, after doing it (soshutdown's datagram rule).
        using Socket other = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, IpProto.Udp);
        Assert.Equal(Errno.ENOTCONN, Assert.Throws<NetSocketException>(() => other.Shutdown(ShutdownHow.SHUT_WR)).Errno);
        Assert.Equal(Errno.EPIPE, Assert.Throws<NetSocketException>(() => other.SendTo("x"u8, net.AddrB.ToSockaddr(9))).Errno);
    }

    [Fact]
    public void Socket_options_follow_sosetopt()
    {
        using var net = StackFixture.Create("sockopt");
        using Socket so = Socket.Create(net.A, SaFamily.AF_INET, SockType.SOCK_DGRAM, IpProto.Udp);
        Assert.Equal(Udp.Udp.RecvSpace, so.GetOption(SoOption.SO_RCVBUF));
        so.SetOption(SoOption.SO_RCVBUF, 4096);
        Assert.Equal(4096, so.Rcv.Hiwat);
        so.SetOption(SoOption.SO_RCVLOWAT, 1 << 20);
        Assert.Equal(4096, so.GetOption(SoOption.SO_RCVLOWAT)); // clamped to hiwat
        Assert.Equal(Errno.ENOBUFS, Assert.Throws<NetSocketException>(() => so.SetOption(SoOption.SO_SNDBUF, SockBuf.MaxSockBuf + 1)).Errno);
        so.SetOption(SoOption.SO_REUSEPORT, 1);
        Assert.Equal(SoOptions.SO_REUSEPORT, so.Options);
        Assert.Equal(64, so.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_TTL, set: true, 64));
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => so.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_TTL, set: true, 256)).Errno);
        Assert.Equal(Errno.ENOPROTOOPT, Assert.Throws<NetSocketException>(() => so.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_HDRINCL, set: true, 1)).Errno);
        Assert.Equal(0, so.GetOption(SoOption.SO_ERROR));
    }

    [Fact]
    public void Routing_tables_are_found_by_family()
    {
        using var net = StackFixture.Create("ribs");
        IRib rib = Assert.IsAssignableFrom<IRib>(Ribs.For(SaFamily.AF_INET));
        Assert.Null(Ribs.For(SaFamily.AF_INET6));
        var connected = new InAddr(net.AddrA.Value & 0xffffff00);
        Nhop route = Assert.Single(rib.Entries(net.A), n => n is Rtentry r && r.Destination == connected && r.PrefixLength == 24);
        Assert.Equal((net.IfA, "U"), (route.Interface, route.FlagsText));
    }

    [SkippableFact]
    public void Ephemeral_ports_come_from_the_portrange_sysctls()
    {
        Skip.IfNot(Vnet.IsVimage, "changes vnet0's port range, which every other test shares without VIMAGE");
        using var net = StackFixture.Create("portrange");
        object? first = Sysctl.Get("net.inet.ip.portrange.first", net.A);
        object? last = Sysctl.Get("net.inet.ip.portrange.last", net.A);
        object? randomized = Sysctl.Get("net.inet.ip.portrange.randomized", net.A);
        try
        {
            Sysctl.Set("net.inet.ip.portrange.first", 50000, net.A);
            Sysctl.Set("net.inet.ip.portrange.last", 50001, net.A);
            using var a = UdpSocket.Create(net.A);
            using var b = UdpSocket.Create(net.A);
            using var c = UdpSocket.Create(net.A);
            a.Bind(InAddr.Any, 0);
            b.Bind(InAddr.Any, 0);
            Assert.Equal([50000, 50001], new[] { (int)a.LocalPort, (int)b.LocalPort }.Order());
            Assert.Equal(Errno.EADDRNOTAVAIL, Assert.Throws<NetSocketException>(() => c.Bind(InAddr.Any, 0)).Errno); // range used up

            Sysctl.Set("net.inet.ip.portrange.first", 40000, net.A);
            Sysctl.Set("net.inet.ip.portrange.last", 40999, net.A);
            Sysctl.Set("net.inet.ip.portrange.randomized", 1, net.A);
            using var d = UdpSocket.Create(net.A);
            d.Bind(InAddr.Any, 0);
            Assert.InRange(d.LocalPort, 40000, 40999);
            Assert.ThrowsAny<Exception>(() => Sysctl.Set("net.inet.ip.portrange.first", 80, net.A)); // below IPPORT_RESERVED
        }
        finally
        {
            Sysctl.Set("net.inet.ip.portrange.first", first, net.A);
            Sysctl.Set("net.inet.ip.portrange.last", last, net.A);
            Sysctl.Set("net.inet.ip.portrange.randomized", randomized, net.A);
        }
    }

    /// <summary>
    /// A toy transport, protocol 253 (RFC 3692's experimental number): the first byte says echo request (0) or
    /// reply (1). Input answers a request from the receiving stack and hands a reply to the sockets of the
    /// protocol in that vnet. Built only on the stack's public registration points.
    /// </summary>
    private sealed class EchoProtosw() : InProtosw(SockType.SOCK_DGRAM, Number, PrFlags.PR_ATOMIC | PrFlags.PR_ADDR)
    {
        public const int Number = 253;

        private readonly object _lock = new();
        private readonly List<Socket> _sockets = [];
        private int _echoed;

        public int Echoed => Volatile.Read(ref _echoed);

        public override IpProtocolInput? Input => OnInput;

        public override int Attach(Socket so, int protocol)
        {
            lock (_lock)
            {
                _sockets.Add(so);
            }

            so.Reserve(4096, 4096);
            return 0;
        }

        public override void Detach(Socket so)
        {
            lock (_lock)
            {
                _sockets.Remove(so);
            }
        }

        public override int Send(Socket so, ReadOnlySpan<byte> data, in Sockaddr to) => Output(0, data, InAddr.Any, InAddr.From(to));

        private static int Output(byte kind, ReadOnlySpan<byte> data, InAddr src, InAddr dst)
        {
            Mbuf m = MbufPool.GetFor(data.Length + 1) ?? throw new InvalidOperationException("no mbufs");
            Span<byte> p = m.Append(data.Length + 1);
            p[0] = kind;
            data.CopyTo(p[1..]);
            return IpOutput.Send(m, src, dst, Number);
        }

        private void OnInput(Mbuf m, int hlen)
        {
            var ip = new IpHeader(m.Data);
            InAddr src = ip.Source, dst = ip.Destination;
            ReadOnlySpan<byte> payload = m.Data[hlen..];
            if (payload.Length > 0 && payload[0] == 0)
            {
                Interlocked.Increment(ref _echoed);
                Output(1, payload[1..], dst, src);
                m.Free();
                return;
            }

            Socket? so;
            lock (_lock)
            {
                so = _sockets.FirstOrDefault(s => s.Vnet == Curvnet.Current);
            }

            m.Adjust(hlen + 1);
            if (so is null || so.AppendAddr(m, src.ToSockaddr()) != SbAppendResult.Queued)
            {
                m.Free();
            }
        }
    }
}
