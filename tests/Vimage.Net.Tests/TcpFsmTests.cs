using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>tcp_fsm.h (states, predicates, tcp_outflags) and tcp_new_isn (RFC 6528).</summary>
public class TcpFsmTests
{
    [Fact]
    public void StatesCarryFreeBsdsNumbersNamesAndPredicates()
    {
        Assert.Equal(10, (int)TcpState.TCPS_TIME_WAIT);
        Assert.Equal("SYN_RCVD", TcpFsm.Name(TcpState.TCPS_SYN_RECEIVED));
        Assert.Equal("TIME_WAIT", TcpFsm.Name(TcpState.TCPS_TIME_WAIT));
        Assert.Equal("11", TcpFsm.Name((TcpState)11));
        Assert.False(TcpFsm.HaveReceivedSyn(TcpState.TCPS_SYN_SENT));
        Assert.True(TcpFsm.HaveReceivedSyn(TcpState.TCPS_SYN_RECEIVED));
        Assert.False(TcpFsm.HaveEstablished(TcpState.TCPS_SYN_RECEIVED));
        Assert.True(TcpFsm.HaveEstablished(TcpState.TCPS_FIN_WAIT_2));
        foreach (TcpState s in Enum.GetValues<TcpState>())
        {
            bool fin = s is TcpState.TCPS_CLOSE_WAIT or TcpState.TCPS_CLOSING or TcpState.TCPS_LAST_ACK or TcpState.TCPS_TIME_WAIT;
            Assert.Equal(fin, TcpFsm.HaveReceivedFin(s));
        }

        Assert.Equal(TcpFlags.TH_SYN, TcpFsm.OutFlags(TcpState.TCPS_SYN_SENT));
        Assert.Equal(TcpFlags.TH_SYN | TcpFlags.TH_ACK, TcpFsm.OutFlags(TcpState.TCPS_SYN_RECEIVED));
        Assert.Equal(TcpFlags.TH_FIN | TcpFlags.TH_ACK, TcpFsm.OutFlags(TcpState.TCPS_LAST_ACK));
        Assert.Equal(TcpFlags.TH_ACK, TcpFsm.OutFlags(TcpState.TCPS_TIME_WAIT));
        Assert.Equal(TcpFlags.None, TcpFsm.OutFlags(TcpState.TCPS_LISTEN));
    }

    [Fact]
    public void IsnsFollowTheClockPerTupleAndDifferAcrossTuples()
    {
        InAddr a = InAddr.Parse("192.0.2.1"), b = InAddr.Parse("192.0.2.2");
        using (Curvnet.Set(Vnet.Vnet0))
        {
            uint isn = Tcp.Tcp.NewIsn(a, 1000, b, 80, 5000);
            Assert.Equal(isn, Tcp.Tcp.NewIsn(a, 1000, b, 80, 5000));
            Assert.Equal(isn + 250_000, Tcp.Tcp.NewIsn(a, 1000, b, 80, 5000 + 250_000)); // a second of 4 µs ticks

            // Neighbouring tuples are not neighbouring offsets (a keyed hash, not a counter).
            var offsets = new HashSet<uint>();
            for (ushort port = 1000; port < 1064; port++)
            {
                offsets.Add(Tcp.Tcp.NewIsn(a, port, b, 80, 0));
            }

            Assert.Equal(64, offsets.Count);
            uint t0 = Tcp.Tcp.NewIsn(a, 1000, b, 80);
            uint t1 = Tcp.Tcp.NewIsn(a, 1000, b, 80);
            Assert.True(TcpSeq.Geq(t1, t0)); // the real clock only moves forward
        }
    }

#if VIMAGE
    [Fact]
    public void EachVnetHasItsOwnIsnSecret()
    {
        InAddr a = InAddr.Parse("192.0.2.1"), b = InAddr.Parse("192.0.2.2");
        Vnet v1 = Vnet.Create("isn-1"), v2 = Vnet.Create("isn-2");
        try
        {
            uint i1 = StackFixture.In(v1, () => Tcp.Tcp.NewIsn(a, 1000, b, 80, 0));
            uint i2 = StackFixture.In(v2, () => Tcp.Tcp.NewIsn(a, 1000, b, 80, 0));
            Assert.NotEqual(i1, i2);
        }
        finally
        {
            v2.Destroy();
            v1.Destroy();
        }
    }
#endif
}
