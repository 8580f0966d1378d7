namespace Vimage.Net;

/// <summary>m_dup for one-mbuf packets: what a protocol hands each of several sockets.</summary>
public static class MbufDup
{
    /// <summary>A copy of <paramref name="m"/>'s data, flags and receiving interface, or null when the pool is empty.</summary>
    public static Mbuf? Dup(Mbuf m)
    {
        Mbuf? copy = MbufPool.GetFor(m.Length);
        if (copy is null)
        {
            return null;
        }

        copy.SetData(m.Data);
        copy.Flags = m.Flags;
        copy.CsumFlags = m.CsumFlags; // m_dup copies the packet header
        copy.CsumData = m.CsumData;
        copy.TsoSegsz = m.TsoSegsz;
        copy.ReceiveInterface = m.ReceiveInterface;
        copy.Fib = m.Fib;
        return copy;
    }
}
