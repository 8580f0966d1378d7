namespace Vimage.Core.Tests;

public class SysctlTests
{
    private static SysctlError ErrorOf(Action action) => Assert.Throws<SysctlException>(action).Error;

    private static Vnet NewVnet(string name) => Vnet.IsVimage ? Vnet.Create(name) : Vnet.Vnet0;

    private static void Release(Vnet vnet)
    {
        if (vnet != Vnet.Vnet0)
        {
            vnet.Destroy();
        }
    }

#if VIMAGE
    [Fact]
    public void AVnetKnobSetInOneVnetIsUnchangedInTheOthers()
    {
        Vnet a = Vnet.Create("sysctl-a"), b = Vnet.Create("sysctl-b");
        try
        {
            Assert.Equal("test.inet.ip.ttl: 64 -> 17", Sysctl.SetAndReport("test.inet.ip.ttl", "17", a));
            Assert.Equal(17, Sysctl.Get("test.inet.ip.ttl", a));
            Assert.Equal(64, Sysctl.Get("test.inet.ip.ttl", b));
            Assert.Equal(64, Sysctl.Get("test.inet.ip.ttl", Vnet.Vnet0));
            using (Curvnet.Set(a))
            {
                Assert.Equal(17, SysctlGlobals.V_t_ttl); // the OID and the accessor see one variable
                Assert.Equal("17", Sysctl.GetText("test.inet.ip.ttl")); // default: the current vnet
            }
        }
        finally
        {
            a.Destroy();
            b.Destroy();
        }
    }

    [Fact]
    public void WithoutTheVnetFlagTheMasterCopyIsWrittenAndOnlyLaterVnetsSeeIt()
    {
        Vnet before = Vnet.Create("before");
        try
        {
            Sysctl.Set("test.inet.ip.master_only", "9");
            Assert.Equal(9, Sysctl.Get("test.inet.ip.master_only", before)); // reads the master, whoever asks
            Assert.Equal(5, SysctlGlobals.V_t_master_In(before));
            Assert.Equal(5, SysctlGlobals.V_t_master_In(Vnet.Vnet0));
            Vnet after = Vnet.Create("after");
            Assert.Equal(9, SysctlGlobals.V_t_master_In(after));
            after.Destroy();
            Assert.Equal(SysctlError.PermissionDenied, ErrorOf(() => Sysctl.Set("test.inet.ip.master_only", "1", before)));
        }
        finally
        {
            Sysctl.Set("test.inet.ip.master_only", "5");
            before.Destroy();
        }
    }

    [Fact]
    public void StatisticsArePerVnetSummedAcrossCpusAndZeroedByAWrite()
    {
        Vnet a = Vnet.Create("stats-a"), b = Vnet.Create("stats-b");
        try
        {
            using (Curvnet.Set(a))
            {
                Parallel.For(0, 4, _ =>
                {
                    using (Curvnet.Set(a))
                    {
                        for (int i = 0; i < 1000; i++)
                        {
                            SysctlGlobals.CountPacket(100);
                        }
                    }
                });
            }

            var stats = (PcpuStatSnapshot)Sysctl.Get("test.inet.ip.stats", a)!;
            Assert.Equal(4000, stats["tst_packets"]);
            Assert.Equal(400_000, stats["tst_bytes"]);
            Assert.Equal(0, stats["tst_drops"]);
            Assert.Equal(0, ((PcpuStatSnapshot)Sysctl.Get("test.inet.ip.stats", b)!)["tst_packets"]);
            Assert.Equal("S,teststat", Sysctl.Find("test.inet.ip.stats").Format);
            Sysctl.Set("test.inet.ip.stats", "0", a); // netstat -z
            Assert.Equal(0, ((PcpuStatSnapshot)Sysctl.Get("test.inet.ip.stats", a)!)["tst_bytes"]);
        }
        finally
        {
            a.Destroy();
            b.Destroy();
        }
    }
#endif

    [Fact]
    public void EachVnetAllocatesItsOwnStatisticsAndTheMasterNone()
    {
        Vnet v = NewVnet("stat-alloc");
        try
        {
            Assert.True(SysctlGlobals.V_t_stat_In(v).IsAllocated);
            if (Vnet.IsVimage)
            {
                var master = (VnetPcpuStat<TestStat>)VnetSymbols.ReadMaster("t_stat")!;
                Assert.False(master.IsAllocated);
            }
        }
        finally
        {
            Release(v);
        }
    }

    [Fact]
    public void BadValuesGiveClearErrorsAndChangeNothing()
    {
        Vnet v = NewVnet("validate");
        try
        {
            var e = Assert.Throws<SysctlException>(() => Sysctl.Set("test.inet.tcp.mssdflt", "100", v));
            Assert.Equal(SysctlError.InvalidValue, e.Error);
            Assert.Equal(22, e.Errno);
            Assert.Contains("out of range [216,", e.Message);
            Assert.Equal(536, Sysctl.Get("test.inet.tcp.mssdflt", v));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.ip.ttl", "256", v)));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.ip.ttl", "0", v)));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.ip.ttl", "sixty", v)));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.ip.ttl", "99999999999", v)));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.ip.ttl", 3.5, v)));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.udp.checksum", "2", v)));
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.inet.ip.maxcount", "-1", v)));
            Assert.Contains("at most 15 fit",
                Assert.Throws<SysctlException>(() => Sysctl.Set("test.inet.icmp.reply_src", "a-very-long-interface-name", v)).Message);
            Assert.Equal(64, Sysctl.Get("test.inet.ip.ttl", v));
            Assert.Equal("", Sysctl.Get("test.inet.icmp.reply_src", v));
            Assert.Equal(true, Sysctl.Get("test.inet.udp.checksum", v));

            Sysctl.Set("test.inet.icmp.reply_src", "epair0b", v);
            Sysctl.Set("test.inet.udp.checksum", "0", v);
            Sysctl.Set("test.inet.ip.ttl", "0x20", v);
            Assert.Equal("epair0b", Sysctl.Get("test.inet.icmp.reply_src", v));
            Assert.Equal("0", Sysctl.GetText("test.inet.udp.checksum", v));
            Assert.Equal(32, Sysctl.Get("test.inet.ip.ttl", v));
            Sysctl.Set("test.inet.ip.ttl", 64, v);
            Sysctl.Set("test.inet.udp.checksum", true, v);
            Sysctl.Set("test.inet.icmp.reply_src", "", v);
        }
        finally
        {
            Release(v);
        }
    }

    [Fact]
    public void PermissionsFollowFreeBsd()
    {
        var e = Assert.Throws<SysctlException>(() => Sysctl.Set("test.kern.ostype", "Linux"));
        Assert.Equal(SysctlError.PermissionDenied, e.Error);
        Assert.Contains("read only", e.Message);
        Assert.Equal(SysctlError.PermissionDenied, ErrorOf(() => Sysctl.Set("test.kern.global_knob", "1", privileged: false)));
        Sysctl.Set("test.kern.anybody", "7", privileged: false);
        Assert.Equal(7u, Sysctl.Get("test.kern.anybody"));
        Sysctl.Set("test.kern.global_knob", "101");
        Assert.Equal(101L, SysctlGlobals.s_t_global); // a plain global: the field itself
        Sysctl.Set("test.kern.global_knob", "100");
        if (Vnet.IsVimage)
        {
            Vnet jail = Vnet.Create("jail");
            try
            {
                Assert.Equal(SysctlError.PermissionDenied, ErrorOf(() => Sysctl.Set("test.kern.global_knob", "5", jail)));
                Assert.Equal(100L, Sysctl.Get("test.kern.global_knob", jail)); // readable from a jail
            }
            finally
            {
                jail.Destroy();
            }
        }
    }

    [Fact]
    public void UnknownNamesAndNodesAreErrors()
    {
        Assert.Equal(SysctlError.UnknownOid, ErrorOf(() => Sysctl.Get("test.inet.ip.nope")));
        Assert.Equal(2, Assert.Throws<SysctlException>(() => Sysctl.Find("no.such.oid")).Errno);
        Assert.Equal(SysctlError.IsNode, ErrorOf(() => Sysctl.Get("test.inet.ip")));
        Assert.Equal(SysctlError.UnknownOid, ErrorOf(() => Sysctl.Get("test..ip")));
        Assert.Equal(SysctlError.UnknownOid, ErrorOf(() => Sysctl.List("test.nothing")));
        Assert.Equal(SysctlError.Exists, ErrorOf(() => Sysctl.AddProc("test.inet.ip.ttl", SysctlFlags.RD, "dup", () => 1)));
        Assert.Equal(SysctlError.Exists, ErrorOf(() => Sysctl.AddProc("test.inet.ip.ttl.sub", SysctlFlags.RD, "under a leaf", () => 1)));
    }

    [Fact]
    public void SubtreeWalksPrintLikeSysctl8()
    {
        Assert.Equal(
            [
                "test.inet.icmp.reply_src: ",
                "test.inet.ip.master_only: 5",
                "test.inet.ip.maxcount: 1000",
                "test.inet.ip.ttl: 64",
                "test.inet.tcp.mssdflt: 536",
                "test.inet.udp.checksum: 1",
            ],
            Sysctl.List("test.inet", vnet: Vnet.Vnet0));
        Assert.Equal(["64"], Sysctl.List("test.inet.ip.ttl", SysctlListOptions.ValuesOnly, Vnet.Vnet0));
        Assert.Equal(["test.inet.ip.ttl: Maximum TTL on IP packets"], Sysctl.List("test.inet.ip.ttl", SysctlListOptions.Descriptions));
        Assert.Equal(["test.inet.ip.master_only", "test.inet.ip.maxcount", "test.inet.ip.stats", "test.inet.ip.ttl"],
            Sysctl.List("test.inet.ip", SysctlListOptions.NamesOnly | SysctlListOptions.Opaque));
        Assert.Contains(Sysctl.List("", SysctlListOptions.NamesOnly), n => n == "test.kern.ostype");
        Assert.Single(Sysctl.List("test.inet.ip.stats")); // named explicitly, an opaque OID is shown
    }

    [Fact]
    public void ProcHandlersRunInTheRequestedVnet()
    {
        var seen = new List<string>();
        Sysctl.AddProc("test.proc.vnet_name", SysctlFlags.RD | SysctlFlags.VNET, "current vnet's name", () => Curvnet.Current!.Name);
        Sysctl.AddProc("test.proc.counter", SysctlFlags.RW, "a handler with validation", () => seen.Count, value =>
        {
            if (value < 0)
            {
                throw new SysctlException(SysctlError.InvalidValue, "negative");
            }

            seen.Add(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        try
        {
            Assert.Equal("vnet0", Sysctl.Get("test.proc.vnet_name", Vnet.Vnet0));
            Sysctl.Set("test.proc.counter", "3");
            Assert.Equal(["3"], seen);
            Assert.Equal(SysctlError.InvalidValue, ErrorOf(() => Sysctl.Set("test.proc.counter", "-3")));
            Assert.Equal(1, Sysctl.Get("test.proc.counter"));
        }
        finally
        {
            Assert.True(Sysctl.Remove("test.proc.vnet_name"));
            Assert.True(Sysctl.Remove("test.proc.counter"));
            Assert.False(Sysctl.Exists("test.proc"));
        }
    }

    [Fact]
    public void LoaderConfSyntaxIsParsedAndBadLinesReported()
    {
        var pairs = SysctlTunables.Parse("# comment\nnet.inet.ip.ttl=\"32\"\nkern.x = 5 # trailing\nnot-a-pair\nhw.name=\"a#b\"", "loader.conf");
        Assert.Equal(
            [new("net.inet.ip.ttl", "32"), new("kern.x", "5"), new("hw.name", "a#b")],
            pairs);
        Assert.Contains(SysctlTunables.ErrorLog, m => m.Contains("loader.conf:4", StringComparison.Ordinal));
    }
}
