using Vimage.Core;

namespace Vimage.Net.Tests;

/// <summary>
/// A vnet knows which of its interfaces are on loan to others, so destroying it finds them without walking every
/// vnet (vnet destroy used to cost O(all vnets)).
/// </summary>
public sealed class IfnetLendTests
{
    [SkippableFact]
    public void Home_tracks_its_lent_interfaces_and_destroys_them_with_itself()
    {
        Skip.IfNot(Vnet.IsVimage, "moving interfaces needs VIMAGE");
        Vnet home = Vnet.Create("lend-home"), j1 = Vnet.Create("lend-j1"), j2 = Vnet.Create("lend-j2");
        try
        {
            IReadOnlyList<Ifnet> pair;
            using (Curvnet.Set(home))
            {
                pair = Ifnets.Create("epair");
            }

            Ifnet a = pair[0], b = pair[1];
            Assert.Empty(Ifnets.Of(home).LentSnapshot());
            Ifnets.Move(a, j1);
            Ifnets.Move(b, j2);
            Assert.Equal(new HashSet<Ifnet> { a, b }, Ifnets.Of(home).LentSnapshot().ToHashSet());

            Ifnets.Move(a, home); // back home: no longer lent
            Assert.Equal([b], Ifnets.Of(home).LentSnapshot());

            home.Destroy();
            Assert.True(b.IsDetached, "the dying home destroyed its clone lent to j2");
            Assert.Null(Ifnets.Of(j2).Find(b.Name));
        }
        finally
        {
            if (home.State == VnetState.Live)
            {
                home.Destroy();
            }

            j1.Destroy();
            j2.Destroy();
        }
    }
    /// <summary>
    /// Regression: when the home had taken a loaned interface's name meanwhile, destroying the borrower threw EEXIST
    /// out of vnet_if_return (jail -r failed half-way with exit 70). The interface now comes home renamed.
    /// </summary>
    [SkippableFact]
    public void An_interface_returning_to_a_home_that_took_its_name_comes_home_renamed()
    {
        Skip.IfNot(Vnet.IsVimage, "moving interfaces needs VIMAGE");
        Vnet home = Vnet.Create("lend-clash-home"), jail = Vnet.Create("lend-clash-jail");
        try
        {
            IReadOnlyList<Ifnet> pair;
            using (Curvnet.Set(home))
            {
                pair = Ifnets.Create("epair");
            }

            Ifnet a = pair[0], b = pair[1];
            string bName = b.Name;
            Ifnets.Move(b, jail);
            Ifnets.Rename(a, bName); // the home reuses the loaned interface's name

            jail.Destroy();

            Assert.Equal(VnetState.Destroyed, jail.State);
            Assert.False(b.IsDetached);
            Assert.Same(home, b.Vnet);
            Assert.Equal(bName + "_1", b.Name);
            Assert.Same(a, Ifnets.Of(home).Find(bName));
            Assert.Empty(Ifnets.Of(home).LentSnapshot());
            using (Curvnet.Set(home))
            {
                Assert.Contains(MsgBuf.Read(), line => line.Contains($"{bName}_1: returned home from vnet lend-clash-jail", StringComparison.Ordinal));
            }
        }
        finally
        {
            if (jail.State == VnetState.Live)
            {
                jail.Destroy();
            }

            home.Destroy();
        }
    }
}
