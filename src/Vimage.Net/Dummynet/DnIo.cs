using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Pfil;

namespace Vimage.Net.Dummynet;

#pragma warning disable CA1707 // FreeBSD's names

/// <summary>Where a packet goes once dummynet releases it: ipfw's continuation (next rule or the rest of ip_input/ip_output).</summary>
public delegate void DnReinject(Mbuf m, Ifnet ifp, PfilDir dir, uint hop, int resumeRule);

/// <summary>
/// dummynet (netpfil/ipfw/ip_dummynet.c, ip_dn_io.c) per vnet: the pipes and queues of the current vnet, the
/// net.inet.ip.dummynet sysctls, and dummynet_io, which ipfw calls for a pipe or queue action. Held packets live
/// on <see cref="DnWheel"/>; a deleted pipe or a destroyed vnet frees its own.
/// </summary>
public static partial class DnIo
{
    /// <summary>DN_MAX_ID: pipe and queue numbers are 1..65535.</summary>
    public const int MaxNumber = 65535;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.io_fast", SysctlFlags.RW | SysctlFlags.VNET, "Enable fast dummynet io.", Min = 0, Max = 1)]
    internal static int s_io_fast;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.hash_size", SysctlFlags.RW | SysctlFlags.VNET, "Default hash table size", Min = 16, Max = 65536)]
    internal static int s_hash_size = 64;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.max_chain_len", SysctlFlags.RW | SysctlFlags.VNET, "Max hash chain len", Min = 1, Max = 1 << 16)]
    internal static int s_max_chain_len = 16;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.pipe_slot_limit", SysctlFlags.RW | SysctlFlags.VNET, "Upper limit in slots for pipe queue.", Min = 2, Max = 1 << 16)]
    internal static int s_pipe_slot_limit = 100;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.pipe_byte_limit", SysctlFlags.RW | SysctlFlags.VNET, "Upper limit in bytes for pipe queue.", Min = 1500, Max = 1 << 30)]
    internal static int s_pipe_byte_limit = 1024 * 1024;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.expire", SysctlFlags.RW | SysctlFlags.VNET, "Expire empty queues/pipes", Min = 0, Max = 1)]
    internal static int s_expire = 1;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.io_pkt", SysctlFlags.RD | SysctlFlags.VNET, "Number of packets passed to dummynet.")]
    internal static long s_io_pkt;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.io_pkt_fast", SysctlFlags.RD | SysctlFlags.VNET, "Number of packets bypassed dummynet scheduler.")]
    internal static long s_io_pkt_fast;

    [Vnet]
    [Sysctl("net.inet.ip.dummynet.io_pkt_drop", SysctlFlags.RD | SysctlFlags.VNET, "Number of packets dropped by dummynet.")]
    internal static long s_io_pkt_drop;

    [Vnet]
    private static DnTables? s_dn_cfg;

    private static long s_failures;

    /// <summary>Set once by ipfw (its registration line): the continuation of a released packet.</summary>
    public static DnReinject? Reinject { get; set; }

    /// <summary>Packets held on the wheel, all vnets (leak checks).</summary>
    public static long Held => DnWheel.Pending;

    /// <summary>Packets dummynet has put back on their way, all vnets (since boot).</summary>
    public static long Released => DnWheel.Released;

    public static long Failures => Interlocked.Read(ref s_failures);

    public static int SlotLimit => V_pipe_slot_limit;

    public static int ByteLimit => V_pipe_byte_limit;

    /// <summary>The current vnet's pipes and queues.</summary>
    public static DnTables Tables => V_dn_cfg ??= new DnTables();

    internal static void CountFailure() => Interlocked.Increment(ref s_failures);

    /// <summary>
    /// dummynet_io: hands <paramref name="m"/> to pipe (or queue) <paramref name="number"/>. True when dummynet took
    /// it (held, or dropped by loss or a full queue, counted); false when there is no such pipe (the caller frees).
    /// </summary>
    public static bool Enqueue(int number, bool queue, Mbuf m, Ifnet ifp, PfilDir dir, uint hop, int resumeRule)
    {
        DnPipe? pipe = queue ? Tables.FindQueue(number) : Tables.FindPipe(number);
        Interlocked.Increment(ref V_io_pkt);
        if (pipe is null)
        {
            Interlocked.Increment(ref V_io_pkt_drop);
            m.Free();
            return false;
        }

        // a masked pipe or queue: the packet's flow instance (bounded by buckets x max_chain_len)
        int buckets = pipe.Config.Buckets > 0 ? pipe.Config.Buckets : V_hash_size;
        if (pipe.InstanceFor(m.Data, buckets * V_max_chain_len) is not { } instance)
        {
            Interlocked.Increment(ref V_io_pkt_drop);
            m.Free();
            return true;
        }

        pipe = instance;
        long now = Stopwatch.GetTimestamp();
        DnPipe link = pipe.Parent ?? pipe;
        if (link.Scheduled)
        {
            if (!link.EnqueueScheduled(pipe, m, ifp, dir, hop, resumeRule, now))
            {
                Interlocked.Increment(ref V_io_pkt_drop);
                m.Free();
            }

            return true;
        }

        DnPipe.Verdict v = pipe.Arrive(m.Length, now);
        if (v.Drop)
        {
            Interlocked.Increment(ref V_io_pkt_drop);
            m.Free();
            return true;
        }

        if (v.CorruptBit >= 0)
        {
            MbufCsum.Complete(m); // the bit flips on the wire, after checksums: the receiver must verify
            Span<byte> data = m.Data;
            data[v.CorruptBit >> 3] ^= (byte)(1 << (v.CorruptBit & 7));
        }

        if (v.Duplicate && MbufDup.Dup(m) is { } copy)
        {
            Hold(copy, pipe, ifp, dir, hop, resumeRule, v.DuplicateRelease);
        }

        if (V_io_fast != 0 && v.Release <= now && Reinject is { } direct)
        {
            Interlocked.Increment(ref V_io_pkt_fast);
            direct(m, ifp, dir, hop, resumeRule); // io_fast: nothing to wait for, no trip through the wheel
            return true;
        }

        Hold(m, pipe, ifp, dir, hop, resumeRule, v.Release);
        return true;
    }

    private static void Hold(Mbuf m, DnPipe pipe, Ifnet ifp, PfilDir dir, uint hop, int resumeRule, long due)
    {
        DnPacket p = DnWheel.Rent();
        p.M = m;
        p.Ifp = ifp;
        p.Dir = dir;
        p.Hop = hop;
        p.Resume = resumeRule;
        p.Vnet = Curvnet.Current;
        p.Owner = (pipe.Parent ?? pipe).Root; // the configured pipe: deleting it frees its flows' packets too
        p.Due = due;
        DnWheel.Schedule(p);
    }

    /// <summary>Frees the packets a pipe holds (pipe delete).</summary>
    internal static int Purge(DnPipe pipe) => DnWheel.Purge(pipe, null);

    [VnetSysuninit(SiSub.SI_SUB_PROTO_FIREWALL, SiOrder.SI_ORDER_FIRST)]
    private static void dummynet_vnet_uninit()
    {
        V_dn_cfg?.Flush(); // packets waiting in scheduled queues, then the wheel's
        V_dn_cfg = null;
        DnWheel.Purge(null, Curvnet.Current);
    }
}
