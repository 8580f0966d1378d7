using Vimage.Core;

namespace Vimage.Net.Ipfw;

/// <summary>
/// struct ip_fw_chain: the rules of one vnet sorted by number, the default rule last. Writers copy the array
/// under the chain's lock and publish it (FreeBSD swaps the map under IPFW_UH_WLOCK); ipfw_chk reads one
/// snapshot and never locks.
/// </summary>
public sealed class IpFwChain
{
    /// <summary>IPFW_DEFAULT_RULE.</summary>
    public const int DefaultRule = 65535;

    private readonly Lock _gate = new();
    private IpFwRule[] _map;

    public IpFwChain(bool defaultAccept)
    {
        _map = [new IpFwRule { Number = DefaultRule, Action = defaultAccept ? IpFwAction.Allow : IpFwAction.Deny }];
    }

    /// <summary>The current rules, default rule last; never changes once read.</summary>
    public IpFwRule[] Map => Volatile.Read(ref _map);

    /// <summary>Number of static rules, the default one included (net.inet.ip.fw.static_count).</summary>
    public int Count => Map.Length;

    /// <summary>
    /// Adds <paramref name="rule"/> after the rules with the same number; number 0 takes the last number plus
    /// net.inet.ip.fw.autoinc_step (ipfw_add_rule). Returns the rule as inserted.
    /// </summary>
    public IpFwRule Add(IpFwRule rule, int autoincStep)
    {
        lock (_gate)
        {
            IpFwRule[] map = _map;
            if (rule.Number == 0)
            {
                int last = map.Length > 1 ? map[^2].Number : 0;
                int number = last + autoincStep;
                rule = Renumber(rule, number < DefaultRule ? number : last);
            }

            int at = 0;
            while (at < map.Length - 1 && map[at].Number <= rule.Number)
            {
                at++;
            }

            var next = new IpFwRule[map.Length + 1];
            Array.Copy(map, next, at);
            next[at] = rule;
            Array.Copy(map, at, next, at + 1, map.Length - at);
            Volatile.Write(ref _map, next);
            return rule;
        }
    }

    /// <summary>Deletes every rule numbered <paramref name="number"/>; false when there is none (ENOENT).</summary>
    public bool Delete(int number)
    {
        lock (_gate)
        {
            IpFwRule[] map = _map;
            int kept = 0;
            for (int i = 0; i < map.Length; i++)
            {
                kept += map[i].Number == number && number != DefaultRule ? 0 : 1;
            }

            if (kept == map.Length)
            {
                return false;
            }

            var next = new IpFwRule[kept];
            int k = 0;
            for (int i = 0; i < map.Length; i++)
            {
                if (map[i].Number != number)
                {
                    next[k++] = map[i];
                }
            }

            Volatile.Write(ref _map, next);
            return true;
        }
    }

    /// <summary>ipfw flush: every rule but the default one.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            Volatile.Write(ref _map, [_map[^1]]);
        }
    }

    /// <summary>ipfw zero [N]: false when N names no rule.</summary>
    public bool Zero(int number = -1)
    {
        bool found = false;
        foreach (IpFwRule rule in Map)
        {
            if (number < 0 || rule.Number == number)
            {
                rule.Counters.Zero();
                Interlocked.Exchange(ref rule.Logged, 0);
                found = true;
            }
        }

        return found;
    }

    /// <summary>ipfw resetlog [N]: the rules' log counters start again (their logamount applies anew).</summary>
    public void ResetLog(int number = -1)
    {
        foreach (IpFwRule rule in Map)
        {
            if (number < 0 || rule.Number == number)
            {
                Interlocked.Exchange(ref rule.Logged, 0);
            }
        }
    }

    /// <summary>True when some rule other than the default one has number <paramref name="number"/>.</summary>
    public bool Exists(int number)
    {
        foreach (IpFwRule rule in Map)
        {
            if (rule.Number == number)
            {
                return true;
            }
        }

        return false;
    }

    private static IpFwRule Renumber(IpFwRule r, int number) => new()
    {
        Number = number, Action = r.Action, Argument = r.Argument, Log = r.Log, LogAmount = r.LogAmount, Protocol = r.Protocol,
        Source = r.Source, Destination = r.Destination, SourcePorts = r.SourcePorts, DestinationPorts = r.DestinationPorts,
        Direction = r.Direction, Via = r.Via, Interface = r.Interface, KeepState = r.KeepState, Cmds = r.Cmds,
    };
}
