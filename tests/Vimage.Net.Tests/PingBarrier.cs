using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>Checks that nothing more is on its way to a ping socket without waiting a fixed time.</summary>
internal static class PingBarrier
{
    /// <summary>
    /// Sends echo <paramref name="sequence"/> and asserts that the next thing <paramref name="ping"/> receives is its
    /// reply. Echoes, replies and ICMP errors between two addresses are one flow (FlowHash: addresses and protocol),
    /// kept in order on one queue, so whatever was still on its way to the socket (a late or duplicate reply, an
    /// error) would arrive first.
    /// </summary>
    public static void NothingBefore(PingSocket ping, InAddr destination, ushort sequence)
    {
        Assert.Equal(0, ping.Send(destination, sequence));
        Assert.True(ping.TryReceive(10_000, out PingReply reply), "no reply to the barrier echo");
        Assert.Equal((PingReplyKind.EchoReply, sequence), (reply.Kind, reply.Sequence));
    }
}
