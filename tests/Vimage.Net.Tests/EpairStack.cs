using Vimage.Core;

namespace Vimage.Net.Tests;

/// <summary>
/// A stack with one epair end up: a vnet of its own with VIMAGE, vnet0 without. Dispose puts the named sysctls back
/// to the values given, destroys the epair and (VIMAGE) the vnet.
/// </summary>
internal sealed class EpairStack : IDisposable
{
    private readonly (string Name, string Value)[] _restore;

    public EpairStack(string name, params (string Name, string Value)[] restore)
    {
        _restore = restore;
#if VIMAGE
        Vnet = Vnet.Create(name);
#else
        Vnet = Vnet.Vnet0;
#endif
        using (Curvnet.Set(Vnet))
        {
            Ifp = Ifnets.Create("epair")[0];
            Ifp.SetUp(true);
        }
    }

    public Vnet Vnet { get; }

    public Ifnet Ifp { get; }

    public void Dispose()
    {
        using (Curvnet.Set(Vnet))
        {
            foreach ((string name, string value) in _restore)
            {
                Sysctl.Set(name, value, Vnet);
            }

            Ifnets.DestroyCloned(Ifp);
        }

#if VIMAGE
        Vnet.Destroy();
#endif
    }
}
