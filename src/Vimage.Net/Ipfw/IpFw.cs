using Vimage.Core;
using Vimage.Net.Dummynet;
using Vimage.Net.Inet;
using Vimage.Net.Pfil;

namespace Vimage.Net.Ipfw;

#pragma warning disable CA1707 // FreeBSD's names

/// <summary>
/// ipfw (netpfil/ipfw/ip_fw2.c) per vnet: V_layer3_chain, the pfil hook (ipfw_check_packet), ipfw_chk and the
/// sysctls of net.inet.ip.fw. The hook is linked in a vnet when ipfw is first configured there (kldload ipfw), so
/// a vnet without rules pays only pfil's null check; from then on the default rule (65535 deny, or allow with the
/// net.inet.ip.fw.default_to_accept tunable) applies, as in FreeBSD.
/// </summary>
public static partial class IpFw
{
    [Vnet]
    [Sysctl("net.inet.ip.fw.enable", SysctlFlags.RW | SysctlFlags.VNET, "Enable ipfw", Min = 0, Max = 1)]
    internal static int s_fw_enable = 1;

    [Vnet]
    [Sysctl("net.inet.ip.fw.one_pass", SysctlFlags.RW | SysctlFlags.VNET,
        "Only do a single pass through ipfw when using dummynet(4)", Min = 0, Max = 1)]
    internal static int s_fw_one_pass = 1;

    [Vnet]
    [Sysctl("net.inet.ip.fw.autoinc_step", SysctlFlags.RW | SysctlFlags.VNET, "Rule number auto-increment step", Min = 1, Max = 1000)]
    internal static int s_autoinc_step = 100;

    [Vnet]
    [Sysctl("net.inet.ip.fw.verbose", SysctlFlags.RW | SysctlFlags.VNET, "Log matches to ipfw rules", Min = 0, Max = 1)]
    internal static int s_fw_verbose;

    [Vnet]
    [Sysctl("net.inet.ip.fw.verbose_limit", SysctlFlags.RW | SysctlFlags.VNET, "Set upper limit of matches of ipfw rules logged", Min = 0, Max = int.MaxValue)]
    internal static int s_verbose_limit;

    [Sysctl("net.inet.ip.fw.default_to_accept", SysctlFlags.RD | SysctlFlags.TUN, "Make the default rule accept all packets.", Min = 0, Max = 1)]
    internal static int s_default_to_accept;

    [Sysctl("net.inet.ip.fw.default_rule", SysctlFlags.RD, "The default/max possible rule number.")]
    internal static int s_default_rule = IpFwChain.DefaultRule;

    [Vnet]
    private static IpFwChain? s_layer3_chain;

    [Vnet]
    private static int s_loaded;

    private static readonly PfilHook Hook = ipfw_check_packet;
    private static int s_registered;

    /// <summary>The current vnet's chain (V_layer3_chain).</summary>
    public static IpFwChain Chain => V_layer3_chain ??= new IpFwChain(s_default_to_accept != 0);

    public static bool OnePass => V_fw_one_pass != 0;

    public static int AutoincStep => V_autoinc_step;

    /// <summary>True once ipfw is configured in the current vnet (its hook is linked).</summary>
    public static bool IsLoaded => V_loaded != 0;

    /// <summary>The stack's one registration line: dummynet's reinjection and the dynamic rules' expiry.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref s_registered, 1) != 0)
        {
            return;
        }

        DnIo.Reinject = Reinject;
        NetTimers.RegisterPerVnet(IpFwDyn.Tick);
    }

    /// <summary>kldload ipfw in the current vnet: links the hook (ipfw_attach_hooks); idempotent.</summary>
    public static void Load()
    {
        _ = Chain;
        if (Interlocked.Exchange(ref V_loaded, 1) == 0)
        {
            PfilHeads.Link(Hook, PfilDir.In | PfilDir.Out);
        }
    }

    /// <summary>kldunload ipfw in the current vnet: unlinks the hook, drops the rules, states, pipes and held packets.</summary>
    public static void Unload() => vnet_ipfw_uninit();

    /// <summary>ipfw_check_packet.</summary>
    private static PfilResult ipfw_check_packet(Mbuf m, Ifnet ifp, PfilDir dir, uint hop)
    {
        if (V_fw_enable == 0)
        {
            return PfilResult.Pass;
        }

        return Check(m, ifp, dir, hop, 0);
    }

    /// <summary>
    /// ipfw_chk from the first rule numbered above <paramref name="after"/> (0: all), then the verdict's effect:
    /// deny frees, reject answers with ICMP, pipe/queue hands the packet to dummynet.
    /// </summary>
    internal static PfilResult Check(Mbuf m, Ifnet ifp, PfilDir dir, uint hop, int after)
    {
        IpFwRule[] map = Chain.Map;
        if (!IpFwPacket.TryParse(m.Data, out IpFwPacket pkt))
        {
            Ip.Stat(IpStat.ips_badhlen);
            m.Free();
            return PfilResult.Dropped; // ipfw_chk's pullup_failed
        }

        int i = 0;
        while (i < map.Length && map[i].Number <= after && map[i].Number != IpFwChain.DefaultRule)
        {
            i++;
        }

        bool probed = false;
        for (; i < map.Length; i++)
        {
            IpFwRule rule = map[i];
            if (rule.KeepState && !probed)
            {
                probed = true; // O_PROBE_STATE: the first keep-state rule checks the dynamic table first
                if (IpFwDyn.Lookup(in pkt) is { } parent)
                {
                    rule = parent;
                    i = Array.IndexOf(map, parent);
                    if (i < 0)
                    {
                        continue; // parent deleted meanwhile: the state is dead
                    }

                    goto matched;
                }
            }

            if (rule.Action == IpFwAction.CheckState)
            {
                if (!probed)
                {
                    probed = true;
                    if (IpFwDyn.Lookup(in pkt) is { } parent && Array.IndexOf(map, parent) is var at and >= 0)
                    {
                        rule = parent;
                        i = at;
                        goto matched;
                    }
                }

                continue;
            }

            if (!Matches(rule, in pkt, m, ifp, dir))
            {
                continue;
            }

            if (rule.KeepState && !IpFwDyn.Install(in pkt, rule))
            {
                m.Free();
                return PfilResult.Dropped; // install_state failed (dyn_max): IP_FW_DENY
            }

        matched:
            rule.Counters.Add(pkt.Length);
            rule.Counters.Timestamp = NetTimers.NowMs;
            if (rule.Log)
            {
                IpFwLog.Log(rule, in pkt, ifp, dir);
            }

            switch (rule.Action)
            {
                case IpFwAction.Count:
                    continue;
                case IpFwAction.Skipto:
                    // jump to the first rule numbered at least the target, never backwards (ipfw_find_rule)
                    int target = rule.Argument;
                    int j = i + 1;
                    while (j < map.Length && map[j].Number < target)
                    {
                        j++;
                    }

                    i = j - 1;
                    continue;
                case IpFwAction.Allow:
                    return PfilResult.Pass;
                case IpFwAction.Deny:
                    m.Free();
                    return PfilResult.Dropped;
                case IpFwAction.Reject:
                    // O_REJECT: an ICMP unreachable to the sender, in either direction (an outbound packet's sender
                    // is this vnet: the error loops back to the socket), unless the packet is itself an ICMP error,
                    // a later fragment, or broadcast/multicast; then it is only dropped.
                    if (pkt.Offset == 0 && (pkt.Protocol != IpProto.Icmp || pkt.IsIcmpQuery)
                        && (m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) == 0 && !new InAddr(pkt.Destination).IsMulticast)
                    {
                        Icmp.Error(m, IcmpType.Unreach, (byte)rule.Argument); // send_reject
                    }
                    else
                    {
                        m.Free();
                    }

                    return PfilResult.Dropped;
                case IpFwAction.Pipe:
                case IpFwAction.Queue:
                    int resume = OnePass ? 0 : rule.Number;
                    return DnIo.Enqueue(rule.Argument, rule.Action == IpFwAction.Queue, m, ifp, dir, hop, resume)
                        ? PfilResult.Consumed : PfilResult.Dropped;
            }
        }

        m.Free(); // unreachable with a default rule; be safe
        return PfilResult.Dropped;
    }

    /// <summary>
    /// The body of ipfw_chk's inner loop: each instruction matches or not, F_NOT inverts it, an or-block matches when
    /// one member does (the rest are skipped), and the first failed instruction outside an or-block fails the rule.
    /// </summary>
    private static bool Matches(IpFwRule rule, in IpFwPacket pkt, Mbuf m, Ifnet ifp, PfilDir dir)
    {
        IpFwCmd[] body = rule.Body;
        bool skipOr = false;
        bool pending = false; // inside an or-block that has not matched yet
        for (int k = 0; k < body.Length; k++)
        {
            IpFwCmd cmd = body[k];
            if (skipOr)
            {
                skipOr = cmd.Or; // the block's last member ends the skipping
                continue;
            }

            bool match = Match(cmd, in pkt, m, ifp, dir);
            if (cmd.Not)
            {
                match = !match;
            }

            if (match)
            {
                skipOr = cmd.Or;
                pending = false;
            }
            else if (!cmd.Or)
            {
                return false;
            }
            else
            {
                pending = true;
            }
        }

        return !pending;
    }

    private static bool Match(IpFwCmd cmd, in IpFwPacket pkt, Mbuf m, Ifnet ifp, PfilDir dir)
    {
        switch (cmd.Op)
        {
            case IpFwOp.Proto:
                return cmd.Value == 0 || pkt.Protocol == cmd.Value; // 0: "ip", in an or-block or negated
            case IpFwOp.SrcAny or IpFwOp.DstAny:
                return true;
            case IpFwOp.SrcMask:
                return IpFwCmd.MaskMatches(cmd.Addresses!, cmd.Masks!, pkt.Source);
            case IpFwOp.DstMask:
                return IpFwCmd.MaskMatches(cmd.Addresses!, cmd.Masks!, pkt.Destination);
            case IpFwOp.SrcMe:
                return InAddrs.IsLocal(new InAddr(pkt.Source)); // O_IP_SRC_ME / in_localip
            case IpFwOp.DstMe:
                return InAddrs.IsLocal(new InAddr(pkt.Destination));
            case IpFwOp.SrcTable or IpFwOp.DstTable:
                return IpFwTables.Find((int)cmd.Value) is { } table
                    && table.Lookup(cmd.Op == IpFwOp.SrcTable ? pkt.Source : pkt.Destination, out uint value)
                    && (cmd.Ports is null || value == cmd.Ports[0].Low); // table(N,value)
            case IpFwOp.SrcPort:
                return pkt.HasPorts && IpFwRule.PortsMatch(cmd.Ports!, pkt.SourcePort);
            case IpFwOp.DstPort:
                return pkt.HasPorts && IpFwRule.PortsMatch(cmd.Ports!, pkt.DestinationPort);
            case IpFwOp.In:
                return dir == PfilDir.In;
            case IpFwOp.Via:
                return IfaceMatch(ifp, cmd.Interface); // the output interface, or the receive interface inbound
            case IpFwOp.Recv:
                return IfaceMatch(dir == PfilDir.In ? ifp : m.ReceiveInterface as Ifnet, cmd.Interface); // also forwarded packets on output
            case IpFwOp.Xmit:
                return dir == PfilDir.Out && IfaceMatch(ifp, cmd.Interface);
            case IpFwOp.IcmpTypes:
                return pkt.IcmpType is >= 0 and < 32 && (cmd.Value & (1u << pkt.IcmpType)) != 0;
            default:
                return IpFwTcp.Match(cmd, in pkt, m.Data);
        }
    }

    /// <summary>iface_match: by name; "any" matches any interface (but not none).</summary>
    private static bool IfaceMatch(Ifnet? ifp, string? name) => ifp is not null && (name == "any" || ifp.Name == name);

    /// <summary>dummynet's return: past the pipe, the next rules (one_pass=0) and then the rest of ip_input/ip_output.</summary>
    private static void Reinject(Mbuf m, Ifnet ifp, PfilDir dir, uint hop, int resumeRule)
    {
        if (resumeRule > 0 && V_fw_enable != 0 && Check(m, ifp, dir, hop, resumeRule) != PfilResult.Pass)
        {
            return;
        }

        if (dir == PfilDir.In)
        {
            IpInput.AfterFilter(ifp, m);
        }
        else
        {
            IpOutput.AfterFilter(m, ifp, new InAddr(hop));
        }
    }

    internal static bool Verbose => V_fw_verbose != 0;

    internal static int VerboseLimit => V_verbose_limit;

    internal static void Emit(string line) => MsgBuf.Log(line);

    [VnetSysuninit(SiSub.SI_SUB_PROTO_FIREWALL, SiOrder.SI_ORDER_ANY)]
    private static void vnet_ipfw_uninit()
    {
        if (Interlocked.Exchange(ref V_loaded, 0) != 0)
        {
            PfilHeads.Unlink(Hook);
        }

        IpFwDyn.Flush();
        V_layer3_chain = null;
        IpFwTables.Clear();
        DnIo.Tables.Flush();
    }
}
