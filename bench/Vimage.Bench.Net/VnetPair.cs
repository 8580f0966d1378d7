using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Epair;

namespace Vimage.Bench.Net;

/// <summary>
/// The Vimage topology both modes measure: two vnets (or vnet0 twice without VIMAGE) and epairs between them, end a
/// in the first vnet and end b loaned to the second, as tests/Vimage.Net.Tests/Topology.cs builds them.
/// </summary>
internal static class VnetPair
{
    /// <summary>Vnets <paramref name="nameA"/> and <paramref name="nameB"/>, or vnet0 for both in a non-VIMAGE build.</summary>
    public static (Vnet A, Vnet B) Create(string nameA, string nameB)
    {
        _ = EpairCloner.DefaultConfig; // loads Vimage.Net before the vnet system boots, so its sets and cloners link in
        return Vnet.IsVimage ? (Vnet.Create(nameA), Vnet.Create(nameB)) : (Vnet.Vnet0, Vnet.Vnet0);
    }

    /// <summary>
    /// A new epair created in <paramref name="va"/>, end b loaned to <paramref name="vb"/> when that is another vnet; each
    /// end is brought up, then <paramref name="configureA"/>/<paramref name="configureB"/> run with its vnet current.
    /// </summary>
    public static (Ifnet A, Ifnet B) Epair(Vnet va, Vnet vb, Action<Ifnet>? configureA = null, Action<Ifnet>? configureB = null)
    {
        Ifnet a, b;
        using (Curvnet.Set(va))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (a, b) = (pair[0], pair[1]);
            if (vb != va)
            {
                Ifnets.Loan(b.Name, vb);
            }

            a.SetUp(true);
            configureA?.Invoke(a);
        }

        using (Curvnet.Set(vb))
        {
            b.SetUp(true);
            configureB?.Invoke(b);
        }

        return (a, b);
    }

    /// <summary>Destroys the two vnets (b first) unless both are vnet0.</summary>
    public static void Destroy(Vnet va, Vnet vb)
    {
        if (va != vb)
        {
            vb.Destroy();
            va.Destroy();
        }
    }
}
