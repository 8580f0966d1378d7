using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Route;
using Vimage.Net.Stack;

namespace Vimage.Net.Tests;

/// <summary>
/// icmp_reflect's options (Record Route and Timestamp come back in the reply), ICMP timestamp and mask requests
/// (net.inet.icmp.tstamprepl, maskrepl, maskfake), and FreeBSD 14's net.inet.icmp.* defaults.
/// </summary>
public sealed class IcmpReflectTests
{
    private static readonly InAddr Localhost = InAddr.Parse("127.0.0.1");

    /// <summary>A vnet of its own with VIMAGE (vnet0 without), lo0 at 127.0.0.1/8.</summary>
    private static Vnet LoopbackVnet(string name)
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create(name) : Vnet.Vnet0;
        using (Curvnet.Set(v))
        {
            NetStack.EnsureInitialized();
            Ifnet lo0 = Ifnets.Find("lo0");
            if (!InAddrs.IsOn(lo0, Localhost))
            {
                InAddrs.Add(lo0, Localhost, 8);
            }
        }

        return v;
    }

    /// <summary>Runs <paramref name="body"/> in <see cref="LoopbackVnet"/>'s vnet, destroyed afterwards (not vnet0).</summary>
    private static void WithLoopbackVnet(string name, Action<Vnet> body)
    {
        Vnet v = LoopbackVnet(name);
        try
        {
            body(v);
        }
        finally
        {
            if (v != Vnet.Vnet0)
            {
                v.Destroy();
            }
        }
    }

    [Fact]
    public void FreeBsd14IcmpDefaults()
    {
        var expected = new Dictionary<string, long>
        {
            ["net.inet.icmp.icmplim"] = 200,
            ["net.inet.icmp.icmplim_output"] = 1,
            ["net.inet.icmp.maskrepl"] = 0,
            ["net.inet.icmp.maskfake"] = 0,
            ["net.inet.icmp.drop_redirect"] = 0,
            ["net.inet.icmp.reply_from_interface"] = 0,
            ["net.inet.icmp.quotelen"] = 548,
            ["net.inet.icmp.bmcastecho"] = 0,
            ["net.inet.icmp.tstamprepl"] = 1,
            ["net.inet.icmp.error_keeptags"] = 0,
        };
        WithLoopbackVnet("icmp-defaults", v =>
        {
            foreach ((string name, long value) in expected)
            {
                Assert.True(Convert.ToInt64(Sysctl.Get(name, v), System.Globalization.CultureInfo.InvariantCulture) == value, name);
            }
        });
    }

    [Fact]
    public void EchoReplyOverLo0CarriesTheRecordedRoute()
    {
        WithLoopbackVnet("icmp-rr-lo0", v =>
        {
            using PingSocket ping = PingSocket.Open(v);
            Assert.Equal(0, ping.Send(Localhost, 1, recordRoute: true));
            Assert.True(ping.TryReceive(5000, out PingReply reply), "no reply to ping -R");

            // The receiver records itself on input (ip_dooptions), icmp_reflect copies the option into the reply,
            // and the sender records itself when the reply comes in: pointer 12, two addresses.
            Assert.Equal([Localhost, Localhost], reply.RecordedRoute);
            Assert.NotNull(reply.IpOptions);
            Assert.Equal(40, reply.IpOptions.Length);
            Assert.Equal((IpOptions.OptRecordRoute, 39, 12), (reply.IpOptions[0], (int)reply.IpOptions[1], (int)reply.IpOptions[2]));
        });
    }

    [SkippableFact]
    public void RecordRouteThroughARouterComesBackInTheReply()
    {
        Skip.IfNot(Vnet.IsVimage, "three vnets need VIMAGE");
        using var t = new Topology();
        Vnet client = t.NewVnet("rr-client"), router = t.NewVnet("rr-router"), server = t.NewVnet("rr-server");
        t.Link(client, "192.0.2.1/24", router, "192.0.2.2/24");
        t.Link(router, "198.51.100.1/24", server, "198.51.100.2/24");
        using (Curvnet.Set(client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        using (Curvnet.Set(server))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("198.51.100.1"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", router);
        using PingSocket ping = PingSocket.Open(client);
        Assert.Equal(0, ping.Send(InAddr.Parse("198.51.100.2"), 1, recordRoute: true));
        Assert.True(ping.TryReceive(5000, out PingReply reply), "no reply to ping -R");
        Assert.Equal(PingReplyKind.EchoReply, reply.Kind);
        Assert.Equal(
            ["198.51.100.1", "198.51.100.2", "192.0.2.2", "192.0.2.1"],
            reply.RecordedRoute!.Select(a => a.ToString()));
    }

    [Fact]
    public void TimestampRequestIsAnsweredUnlessTstampreplIsOff()
    {
        WithLoopbackVnet("icmp-tstamp", v =>
        {
            using PingSocket ping = PingSocket.Open(v);
            ping.RequestType = IcmpType.Timestamp;
            long replies = In(v, () => Icmp.FetchOutHist(IcmpType.TimestampReply));
            uint before = IpOptions.IpTime();
            Assert.Equal(0, ping.Send(Localhost, 7));
            Assert.True(ping.TryReceive(5000, out PingReply reply), "no timestamp reply");
            uint after = IpOptions.IpTime();
            Assert.Equal((PingReplyKind.EchoReply, IcmpType.TimestampReply, (ushort)7, 8 + 12 + 56), (reply.Kind, reply.IcmpType, reply.Sequence, reply.Bytes));
            Assert.InRange(reply.ReceiveTime, Math.Min(before, after), Math.Max(before, after)); // not across midnight in practice
            Assert.Equal(reply.ReceiveTime, reply.TransmitTime);
            Assert.Equal(replies + 1, In(v, () => Icmp.FetchOutHist(IcmpType.TimestampReply)));

            Sysctl.Set("net.inet.icmp.tstamprepl", "0", v);
            try
            {
                long inhist = In(v, () => Icmp.FetchInHist(IcmpType.Timestamp));
                Assert.Equal(0, ping.Send(Localhost, 8));
                Assert.True(Frames.WaitFor(() => In(v, () => Icmp.FetchInHist(IcmpType.Timestamp)) == inhist + 1, 5000));
                Assert.False(ping.TryReceive(300, out _));
                Assert.Equal(replies + 1, In(v, () => Icmp.FetchOutHist(IcmpType.TimestampReply)));
            }
            finally
            {
                Sysctl.Set("net.inet.icmp.tstamprepl", "1", v);
            }
        });
    }

    [Fact]
    public void MaskRequestIsAnsweredOnlyWithMaskrepl()
    {
        WithLoopbackVnet("icmp-mask", v =>
        {
            using PingSocket ping = PingSocket.Open(v);
            ping.RequestType = IcmpType.MaskRequest;
            long inhist = In(v, () => Icmp.FetchInHist(IcmpType.MaskRequest));
            Assert.Equal(0, ping.Send(Localhost, 1)); // maskrepl=0 by default: no answer
            Assert.True(Frames.WaitFor(() => In(v, () => Icmp.FetchInHist(IcmpType.MaskRequest)) == inhist + 1, 5000));
            Assert.False(ping.TryReceive(300, out _));

            Sysctl.Set("net.inet.icmp.maskrepl", "1", v);
            try
            {
                Assert.Equal(0, ping.Send(Localhost, 2));
                Assert.True(ping.TryReceive(5000, out PingReply reply), "no mask reply");
                Assert.Equal((IcmpType.MaskReply, (ushort)2, InAddr.Parse("255.0.0.0")), (reply.IcmpType, reply.Sequence, reply.Mask));

                Sysctl.Set("net.inet.icmp.maskfake", "4294967040", v); // 0xffffff00, sent as stored
                Assert.Equal(0, ping.Send(Localhost, 3));
                Assert.True(ping.TryReceive(5000, out PingReply fake), "no fake mask reply");
                Assert.Equal(InAddr.Parse("255.255.255.0"), fake.Mask);
            }
            finally
            {
                Sysctl.Set("net.inet.icmp.maskfake", "0", v);
                Sysctl.Set("net.inet.icmp.maskrepl", "0", v);
            }
        });
    }

    [Fact]
    public void ReflectCopiesRecordRouteTimestampAndSecurityOnly()
    {
        byte[] options =
        [
            IpOptions.NoOp,
            IpOptions.OptRecordRoute, 7, 4, 0, 0, 0, 0,
            IpOptions.LooseSourceRoute, 7, 4, 10, 0, 0, 1,
            IpOptions.Timestamp, 8, 5, 0, 0, 0, 0, 0,
            IpOptions.EndOfList,
        ];
        Span<byte> into = stackalloc byte[IpOptions.MaxLength];
        int n = IpOptions.CopyReflected(options, into);
        Assert.Equal(16, n); // 7 + 8, padded with EOL to a multiple of 4
        Assert.Equal(options.AsSpan(1, 7).ToArray(), into[..7].ToArray());
        Assert.Equal(options.AsSpan(15, 8).ToArray(), into[7..15].ToArray());
        Assert.Equal(IpOptions.EndOfList, into[15]);
        Assert.Equal(0, IpOptions.CopyReflected([IpOptions.NoOp, IpOptions.EndOfList, 0, 0], into));
    }

    private static T In<T>(Vnet v, Func<T> read)
    {
        using (Curvnet.Set(v))
        {
            return read();
        }
    }
}
