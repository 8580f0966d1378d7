using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>SYN cookies (tcp_syncache.c syncookie_*): encoding, validation window, forgery bound, per-vnet secrets.</summary>
public class TcpSyncookieTests
{
    private static readonly InAddr Local = InAddr.Parse("192.0.2.1"), Foreign = InAddr.Parse("198.51.100.7");

    private static void InVnet(Action<Vnet> body)
    {
        if (Vnet.IsVimage)
        {
            Vnet v = Vnet.Create("cookie-test");
            try
            {
                using (Curvnet.Set(v))
                {
                    body(v);
                }
            }
            finally
            {
                v.Destroy();
            }

            return;
        }

        using (Curvnet.Set(Vnet.Vnet0))
        {
            body(Vnet.Vnet0);
        }
    }

    [Fact]
    public void SipHash24MatchesTheReferenceVectors()
    {
        const ulong k0 = 0x0706050403020100UL, k1 = 0x0f0e0d0c0b0a0908UL; // key 00 01 .. 0f
        byte[] msg = [.. Enumerable.Range(0, 15).Select(i => (byte)i)];
        Assert.Equal(0x726fdb47dd0e0e31UL, TcpSyncookies.SipHash24(k0, k1, []));
        Assert.Equal(0x93f5f5799a932462UL, TcpSyncookies.SipHash24(k0, k1, msg.AsSpan(0, 8)));
        Assert.Equal(0xa129ca6149be45e5UL, TcpSyncookies.SipHash24(k0, k1, msg));
    }

    [Fact]
    public void EveryMssWindowScaleAndSackCombinationRoundTrips()
    {
        InVnet(v =>
        {
            long now = NetTimers.NowMs;
            long sent = Tcp.Tcp.Fetch(v, TcpStat.tcps_sc_sendcookie), received = Tcp.Tcp.Fetch(v, TcpStat.tcps_sc_recvcookie);
            int[] msses = [100, 216, 300, 536, 1199, 1200, 1360, 1400, 1440, 1452, 1459, 1460, 9000];
            int n = 0;
            uint irs = 0xffff_fff0; // the peer's ISN near the wrap: th_seq = irs + 1 wraps soon after
            foreach (int mss in msses)
            {
                for (int ws = -1; ws <= 14; ws++)
                {
                    foreach (bool sack in new[] { false, true })
                    {
                        irs += 0x0101_0101;
                        ushort fport = (ushort)(40000 + n);
                        uint iss = TcpSyncookies.Generate(Local, 80, Foreign, fport, irs, mss, ws, sack, now);
                        Assert.True(TcpSyncookies.TryValidate(Local, 80, Foreign, fport, irs + 1, iss + 1, now, out SyncookieOptions o),
                            $"mss {mss} ws {ws} sack {sack}");
                        int expectMss = mss < 216 ? 216 : TcpSyncookies.MssTable.ToArray().Last(m => m <= mss);
                        int expectWs = ws < 0 ? -1 : TcpSyncookies.WScaleTable.ToArray().Last(w => w <= ws);
                        Assert.Equal(new SyncookieOptions(expectMss, expectWs, sack), o);
                        n++;
                    }
                }
            }

            Assert.Equal(sent + n, Tcp.Tcp.Fetch(v, TcpStat.tcps_sc_sendcookie));
            Assert.Equal(received + n, Tcp.Tcp.Fetch(v, TcpStat.tcps_sc_recvcookie));
        });
    }

    [Fact]
    public void ForgedAcksAreRejected()
    {
        // A forged ACK passes only if its upper 24 bits equal the MAC chosen by its own low byte: p = 2^-24 per try.
        // 100,000 tries: expected 0.006 acceptances; P(3 or more) ≈ 4·10^-8, so "at most 2" fails only on a bug.
        InVnet(v =>
        {
            long now = NetTimers.NowMs;
            uint irs = 123_456_789;
            uint iss = TcpSyncookies.Generate(Local, 443, Foreign, 50000, irs, 1460, 7, true, now);
            var rng = new Random(14);
            int accepted = 0;
            for (int i = 0; i < 100_000; i++)
            {
                uint ack = (uint)rng.NextInt64(0, 1L << 32);
                if (ack != iss + 1 && TcpSyncookies.TryValidate(Local, 443, Foreign, 50000, irs + 1, ack, now, out _))
                {
                    accepted++;
                }
            }

            Assert.InRange(accepted, 0, 2);
            // The genuine cookie, but for another tuple or another ISN, or with a flipped bit: rejected.
            Assert.True(TcpSyncookies.TryValidate(Local, 443, Foreign, 50000, irs + 1, iss + 1, now, out _));
            Assert.False(TcpSyncookies.TryValidate(Local, 443, Foreign, 50001, irs + 1, iss + 1, now, out _));
            Assert.False(TcpSyncookies.TryValidate(Local, 444, Foreign, 50000, irs + 1, iss + 1, now, out _));
            Assert.False(TcpSyncookies.TryValidate(Local, 443, InAddr.Parse("198.51.100.8"), 50000, irs + 1, iss + 1, now, out _));
            Assert.False(TcpSyncookies.TryValidate(Local, 443, Foreign, 50000, irs + 2, iss + 1, now, out _));
            Assert.False(TcpSyncookies.TryValidate(Local, 443, Foreign, 50000, irs + 1, (iss ^ 0x100) + 1, now, out _));
            Assert.False(TcpSyncookies.TryValidate(Local, 443, Foreign, 50000, irs + 1, (iss ^ 0x2) + 1, now, out _)); // SACK bit forged
        });
    }

    [Fact]
    public void ACookieLivesOneReseedAndDiesAtTheSecond()
    {
        InVnet(vnet =>
        {
            long t0 = NetTimers.NowMs;
            uint irs = 7;
            uint iss = TcpSyncookies.Generate(Local, 22, Foreign, 60000, irs, 1400, -1, false, t0);
            long t1 = t0 + (TcpSyncookies.SYNCOOKIE_LIFETIME * 1000) + 1; // one reseed later: the previous secret still works
            Assert.True(TcpSyncookies.TryValidate(Local, 22, Foreign, 60000, irs + 1, iss + 1, t1, out SyncookieOptions o));
            Assert.Equal(new SyncookieOptions(1400, -1, false), o);
            uint fresh = TcpSyncookies.Generate(Local, 22, Foreign, 60001, irs, 1400, -1, false, t1);
            long t2 = t1 + (TcpSyncookies.SYNCOOKIE_LIFETIME * 1000); // a second reseed: the first cookie's secret is gone
            Assert.False(TcpSyncookies.TryValidate(Local, 22, Foreign, 60000, irs + 1, iss + 1, t2, out _));
            Assert.True(TcpSyncookies.TryValidate(Local, 22, Foreign, 60001, irs + 1, fresh + 1, t2, out _));
            long t3 = t2 + (3 * TcpSyncookies.SYNCOOKIE_LIFETIME * 1000); // long idle: both secrets renewed
            Assert.False(TcpSyncookies.TryValidate(Local, 22, Foreign, 60001, irs + 1, fresh + 1, t3, out _));
        });
    }

    [SkippableFact]
    public void CookiesOfOneVnetMeanNothingInAnother()
    {
        Skip.IfNot(Vnet.IsVimage, "one vnet without VIMAGE");
        Vnet a = Vnet.Create("cookie-a"), b = Vnet.Create("cookie-b");
        try
        {
            long now = NetTimers.NowMs;
            int acceptedElsewhere = 0;
            for (uint i = 0; i < 64; i++)
            {
                uint iss;
                using (Curvnet.Set(a))
                {
                    iss = TcpSyncookies.Generate(Local, 80, Foreign, (ushort)(1000 + i), i, 1460, 7, true, now);
                    Assert.True(TcpSyncookies.TryValidate(Local, 80, Foreign, (ushort)(1000 + i), i + 1, iss + 1, now, out _));
                }

                using (Curvnet.Set(b))
                {
                    acceptedElsewhere += TcpSyncookies.TryValidate(Local, 80, Foreign, (ushort)(1000 + i), i + 1, iss + 1, now, out _) ? 1 : 0;
                }
            }

            Assert.Equal(0, acceptedElsewhere); // each try passes with p = 2^-24
        }
        finally
        {
            a.Destroy();
            b.Destroy();
        }
    }

    [Fact]
    public void SysctlsHaveFreeBsdsDefaultsAndRange()
    {
        InVnet(v =>
        {
            Assert.Equal(1, Sysctl.Get("net.inet.tcp.syncookies", v));
            Assert.Equal(0, Sysctl.Get("net.inet.tcp.syncookies_only", v));
            Assert.True(TcpSyncookies.Enabled);
            Assert.False(TcpSyncookies.Only);
            Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.syncookies", "2", v));
            Assert.Equal(1, Sysctl.Get("net.inet.tcp.syncookies", v));
        });
    }
}
