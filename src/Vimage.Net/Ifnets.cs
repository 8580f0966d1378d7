using System.Globalization;
using Vimage.Core;

namespace Vimage.Net;

/// <summary>
/// The per-vnet interface lists and what acts on them: attach, detach, lookup, cloning and moving interfaces
/// between vnets (if_vmove). One lock (FreeBSD's ifnet_detach_sxlock) serializes destroys, moves and vnet
/// teardown, so destroying an epair while its vnet goes away cannot resurrect a freed interface.
/// </summary>
public static partial class Ifnets
{
    /// <summary>ifnet_detach_sxlock.</summary>
    public static readonly object DetachLock = new();

    private static readonly Dictionary<string, IfCloner> Cloners = new(StringComparer.Ordinal);

    [Vnet]
    private static IfnetList s_ifnet = new();

    /// <summary>V_ifnet of the current vnet.</summary>
    public static IfnetList Current => V_ifnet;

    /// <summary>Another vnet's interface list.</summary>
    public static IfnetList Of(Vnet vnet) => V_ifnet_In(vnet);

    /// <summary>if_clone_attach: makes a cloner available to ifconfig create in every vnet.</summary>
    public static void RegisterCloner(IfCloner cloner)
    {
        lock (Cloners)
        {
            Cloners[cloner.Name] = cloner;
        }
    }

    /// <summary>Registers the cloner <paramref name="name"/> unless it already is (drivers call this before first use).</summary>
    public static void EnsureCloner(string name, Func<IfCloner> create)
    {
        lock (Cloners)
        {
            if (!Cloners.ContainsKey(name))
            {
                IfCloner cloner = create();
                Cloners[cloner.Name] = cloner;
            }
        }
    }

    public static IReadOnlyList<string> ClonerNames
    {
        get
        {
            lock (Cloners)
            {
                return Cloners.Keys.Order(StringComparer.Ordinal).ToArray();
            }
        }
    }

    /// <summary>ifunit(): the interface called <paramref name="name"/> in the current vnet, or ENXIO.</summary>
    public static Ifnet Find(string name)
        => V_ifnet.Find(name) ?? throw new IfException(IfError.NoSuchInterface, $"ifconfig: interface {name} does not exist");

    public static Ifnet? TryFind(string name) => V_ifnet.Find(name);

    /// <summary>if_alloc + if_attach in the current vnet.</summary>
    public static Ifnet Attach(string name, IfType type, IIfDriver driver, byte[] lladdr, IfFlags flags)
    {
        Vnet vnet = Curvnet.Current ?? throw new InvalidOperationException("if_attach needs a current vnet");
        var ifp = new Ifnet(name, type, driver, vnet, lladdr);
        ifp.InitFlags(flags);
        try
        {
            V_ifnet.Add(ifp);
        }
        catch
        {
            ifp.FreeCounters();
            throw;
        }

        vnet.AddInterface();
        IfEvents.RaiseAttached(ifp);
        return ifp;
    }

    /// <summary>if_detach + if_free: stops it, lets protocols purge it, unlinks it and frees it. Idempotent.</summary>
    public static void Detach(Ifnet ifp)
    {
        lock (DetachLock)
        {
            if (!ifp.MarkDetached())
            {
                return;
            }

            Vnet vnet = ifp.Vnet;
            ifp.SetFlag(IfFlags.IFF_UP, false);
            ifp.Driver.Stop(ifp);
            using (Curvnet.Set(vnet))
            {
                IfEvents.RaiseDeparting(ifp);
                V_ifnet.Remove(ifp);
            }

            vnet.RemoveInterface();
            if (ifp.HomeVnet != vnet && ifp.HomeVnet.State != VnetState.Destroyed)
            {
                V_ifnet_In(ifp.HomeVnet).SetLent(ifp, away: false);
            }

            ifp.Driver.Detach(ifp);
            ifp.Bpf.DetachAll();
        }
    }

    /// <summary>ifconfig name create: "epair" (any unit) or "epair7".</summary>
    public static IReadOnlyList<Ifnet> Create(string spec)
    {
        (IfCloner cloner, int unit) = ParseCloneSpec(spec);
        _ = Curvnet.Current ?? throw new InvalidOperationException("ifconfig create needs a current vnet (Curvnet.Set)");
        lock (DetachLock)
        {
            IfnetList list = V_ifnet;
            int allocated = list.AllocUnit(cloner.Name, unit, cloner.NamesFor);
            try
            {
                return cloner.Create(allocated);
            }
            catch
            {
                list.FreeUnit(cloner.Name, allocated);
                throw;
            }
        }
    }

    /// <summary>ifconfig name destroy, in the current vnet.</summary>
    public static void Destroy(string name)
    {
        lock (DetachLock)
        {
            Ifnet ifp = Find(name);
            if (ifp.Cloner is not { } cloner || !cloner.CanDestroy(ifp))
            {
                throw new IfException(IfError.InvalidArgument, $"ifconfig: SIOCIFDESTROY: {name}: Invalid argument");
            }

            DestroyCloned(ifp);
        }
    }

    /// <summary>Destroys a cloned interface (and its partners), freeing its unit in its home vnet.</summary>
    internal static void DestroyCloned(Ifnet ifp)
    {
        lock (DetachLock)
        {
            if (ifp.IsDetached || ifp.Cloner is not { } cloner)
            {
                return;
            }

            int unit = cloner.UnitOf(ifp);
            cloner.Destroy(ifp);
            if (ifp.HomeVnet.State != VnetState.Destroyed)
            {
                V_ifnet_In(ifp.HomeVnet).FreeUnit(cloner.Name, unit);
            }
        }
    }

    /// <summary>ifconfig name name2: renames within its vnet.</summary>
    public static void Rename(Ifnet ifp, string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 15 || name.Any(char.IsWhiteSpace))
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: '{name}' is not a valid interface name (1 to 15 characters)");
        }

        lock (DetachLock)
        {
            ifp.EnsureAttached();
            V_ifnet_In(ifp.Vnet).Rename(ifp, name);
        }
    }

    /// <summary>
    /// if_vmove: moves <paramref name="ifp"/> into <paramref name="target"/>. Protocols of the old vnet purge it
    /// first; the name must be free in the target (EEXIST otherwise, nothing changed).
    /// </summary>
    public static void Move(Ifnet ifp, Vnet target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (DetachLock)
        {
            ifp.EnsureAttached();
            target.EnsureUsable();
            Vnet source = ifp.Vnet;
            if (source == target)
            {
                return;
            }

            if (target.IsShuttingDown)
            {
                throw new IfException(IfError.InvalidArgument, $"ifconfig: {target.Name} is being destroyed");
            }

            if (V_ifnet_In(target).Find(ifp.Name) is not null)
            {
                throw new IfException(IfError.Exists, $"ifconfig: interface {ifp.Name} already exists in {target.Name}");
            }

            using (Curvnet.Set(source))
            {
                IfEvents.RaiseDeparting(ifp);
                V_ifnet.Remove(ifp);
            }

            source.RemoveInterface();
            ifp.Vnet = target;
            using (Curvnet.Set(target))
            {
                V_ifnet.Add(ifp);
                target.AddInterface();
                IfEvents.RaiseAttached(ifp);
            }

            if (ifp.HomeVnet.State != VnetState.Destroyed)
            {
                V_ifnet_In(ifp.HomeVnet).SetLent(ifp, away: target != ifp.HomeVnet);
            }
        }
    }

    /// <summary>ifconfig name vnet J (SIOCSIFVNET): loans an interface of the current vnet to <paramref name="jail"/>.</summary>
    public static void Loan(string name, Vnet jail) => Move(Find(name), jail);

    /// <summary>ifconfig name -vnet J (SIOCSIFRVNET): takes an interface back from <paramref name="jail"/> into the current vnet.</summary>
    public static void Reclaim(string name, Vnet jail)
    {
        Vnet here = Curvnet.Current ?? throw new InvalidOperationException("no current vnet");
        Ifnet ifp = V_ifnet_In(jail).Find(name)
            ?? throw new IfException(IfError.NoSuchInterface, $"ifconfig: interface {name} does not exist in {jail.Name}");
        Move(ifp, here);
    }

    private static (IfCloner Cloner, int Unit) ParseCloneSpec(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int digits = spec.Length;
        while (digits > 0 && char.IsAsciiDigit(spec[digits - 1]))
        {
            digits--;
        }

        string name = spec[..digits];
        IfCloner? cloner;
        lock (Cloners)
        {
            Cloners.TryGetValue(name, out cloner);
        }

        if (cloner is null)
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: SIOCIFCREATE2 ({spec}): Invalid argument (no cloner named '{name}')");
        }

        int unit = -1;
        if (digits != spec.Length && !int.TryParse(spec.AsSpan(digits), NumberStyles.None, CultureInfo.InvariantCulture, out unit))
        {
            unit = int.MaxValue; // ifc_name2unit's overflow check: refused like any unit out of range
        }

        if (unit > 32767)
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: SIOCIFCREATE2 ({spec}): unit {unit} out of range");
        }

        return (cloner, unit);
    }

    /// <summary>vnet_if_return: loaned interfaces go home before any protocol of the dying vnet is torn down.</summary>
    [VnetSysuninit(SiSub.SI_SUB_VNET_DONE, SiOrder.SI_ORDER_ANY)]
    private static void vnet_if_return()
    {
        Vnet dying = Curvnet.Current!;
        lock (DetachLock)
        {
            foreach (Ifnet ifp in V_ifnet.Snapshot())
            {
                Vnet home = ifp.HomeVnet;
                if (home != dying && home.State == VnetState.Live && !home.IsShuttingDown)
                {
                    ReturnHome(ifp, home);
                }
            }
        }
    }

    /// <summary>
    /// One loaned interface goes home from a dying vnet. The home may have taken its name meanwhile (ifconfig ... name);
    /// FreeBSD's if_vmove then attaches a second interface of the same name, which Vimage's unique names forbid, and
    /// a jail's removal must not fail half-way: it comes home as NAME_N (the first free N) and the rename is logged.
    /// </summary>
    private static void ReturnHome(Ifnet ifp, Vnet home)
    {
        IfnetList homeList = V_ifnet_In(home);
        string name = ifp.Name;
        if (homeList.Find(name) is not null)
        {
            string free = FreeNameLike(homeList, name);
            string departed = ifp.Vnet.Name;
            V_ifnet.Rename(ifp, free);
            using (Curvnet.Set(home))
            {
                MsgBuf.Log($"{free}: returned home from vnet {departed} as {free}: {name} is in use");
            }
        }

        Move(ifp, home);
    }

    private static string FreeNameLike(IfnetList list, string name)
    {
        for (int n = 1; ; n++)
        {
            string suffix = $"_{n}";
            string candidate = name[..Math.Min(name.Length, 15 - suffix.Length)] + suffix;
            if (list.Find(candidate) is null)
            {
                return candidate;
            }
        }
    }

    /// <summary>Cloned interfaces whose home is the dying vnet are destroyed (vnet_epair_uninit and friends).</summary>
    [VnetSysuninit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_ANY)]
    private static void vnet_if_clone_uninit()
    {
        Vnet dying = Curvnet.Current!;
        lock (DetachLock)
        {
            foreach (Ifnet ifp in V_ifnet.Snapshot())
            {
                if (ifp.Cloner is not null)
                {
                    DestroyCloned(ifp);
                }
                else
                {
                    Detach(ifp);
                }
            }

            // Our clones that were loaned to vnets still alive go too (their home is gone); the home's list of
            // lent interfaces finds them without walking every vnet, so destroying a vnet is O(its interfaces).
            foreach (Ifnet ifp in V_ifnet.LentSnapshot())
            {
                DestroyCloned(ifp);
            }
        }
    }
}
