using System.Reflection;
using Vimage.Core.Linker;

namespace Vimage.Core.Tests;

/// <summary>Assemblies loaded after boot: kldload/kldunload of DPCPU and VNET sets.</summary>
public class ModuleTests
{
    private static string ModulePath(string name)
        => Path.Combine(AppContext.BaseDirectory, "modules", name + ".dll");

    private static List<string> Events(KernelModule module)
    {
        var events = (List<string>)module.Assembly.GetType("Vimage.TestModule.ModuleState")!
            .GetField("Events", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        lock (events)
        {
            return [.. events];
        }
    }

    private static T Call<T>(KernelModule module, string method, params object[] args)
        => (T)module.Assembly.GetType("Vimage.TestModule.ModuleState")!
            .GetMethod(method, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, args)!;

    [Fact]
    public void AModuleReachesExistingAndLaterVnetsAndUnloadsCleanly()
    {
        Vnet? early = Vnet.IsVimage ? Vnet.Create("early") : null;
        long vnetFree = VnetSystem.Reserve.FreeBytes;
        long pcpuFree = Dpcpu.Reserve.FreeBytes;
        KernelModule module = KernelModule.Load(ModulePath("Vimage.TestModule"));
        Vnet? late = null;
        try
        {
            Assert.Equal(7L * CpuId.Count, Call<long>(module, "PerCpuSum")); // reference copy in every CPU
            Assert.True(Dpcpu.Reserve.FreeBytes < pcpuFree);
            VnetSymbol symbol = VnetSymbols.Find("mod_counter");
            Assert.True(symbol.IsModule || !Vnet.IsVimage);

            // Constructors ran in every existing vnet, in (subsystem, order), after the data was copied in.
            Assert.Equal(143L, Call<long>(module, "Counter", Vnet.Vnet0));
            Assert.Equal(["created", "first"], Call<List<string>>(module, "Names", Vnet.Vnet0));
            if (early is not null)
            {
                Assert.True(VnetSystem.Reserve.FreeBytes < vnetFree);
                Assert.Equal(143L, Call<long>(module, "Counter", early));
                Assert.Contains("init1 early", Events(module));
                Assert.True(Events(module).IndexOf("init1 early") < Events(module).IndexOf("init2 early"));
                Assert.NotSame(Call<List<string>>(module, "Names", early), Call<List<string>>(module, "Names", Vnet.Vnet0));

                // A vnet created after the load gets the module's data and constructors too.
                late = Vnet.Create("late");
                Assert.Equal(143L, Call<long>(module, "Counter", late));
                Assert.Equal(["created", "first"], Call<List<string>>(module, "Names", late));
            }
        }
        finally
        {
            module.Unload();
        }

        List<string> events = Events(module);
        Assert.Contains("uninit vnet0", events);
        if (early is not null)
        {
            Assert.Contains("uninit early", events);
            Assert.Contains("uninit late", events);
            Assert.Equal(vnetFree, VnetSystem.Reserve.FreeBytes); // space back for reuse
        }

        Assert.Equal(pcpuFree, Dpcpu.Reserve.FreeBytes);
        Assert.Throws<KeyNotFoundException>(() => VnetSymbols.Find("mod_counter"));
        late?.Destroy();
        early?.Destroy();
        // Read the events again after Destroy(): the unload ran each destructor once, Destroy() must not again.
        List<string> after = Events(module);
        Assert.Equal(early is null ? 0 : 1, after.Count(e => e == "uninit late"));
        Assert.Equal(early is null ? 0 : 1, after.Count(e => e == "uninit early"));
        Assert.Single(after, e => e == "uninit vnet0");
    }

    [Fact]
    public void AModuleCanBeLoadedAgainAfterUnloadIntoTheSameSpace()
    {
        long free = VnetSystem.Reserve.FreeBytes;
        for (int i = 0; i < 3; i++)
        {
            KernelModule module = KernelModule.Load(ModulePath("Vimage.TestModule"));
            Assert.Equal(143L, Call<long>(module, "Counter", Vnet.Vnet0));
            module.Unload();
            Assert.Equal(free, VnetSystem.Reserve.FreeBytes);
        }
    }

    [Fact]
    public void AModuleTooBigForTheReserveFailsWithNothingHalfLoaded()
    {
        long free = VnetSystem.Reserve.FreeBytes;
        int symbols = VnetSymbols.All.Count;
        if (!Vnet.IsVimage)
        {
            // Without VIMAGE module variables are plain globals: there is no reserve to exhaust.
            using KernelModule plain = KernelModule.Load(ModulePath("Vimage.BigModule"));
            Assert.Equal(symbols + 1, VnetSymbols.All.Count);
            return;
        }

        var e = Assert.Throws<InvalidOperationException>(() => KernelModule.Load(ModulePath("Vimage.BigModule")));
        Assert.Contains("vnet module space is out of space", e.Message);
        Assert.Contains("Vimage.BigModule", e.Message);
        Assert.Contains("40000 bytes", e.Message);
        Assert.IsType<ModSpaceExhaustedException>(e.InnerException);
        Assert.Equal(free, VnetSystem.Reserve.FreeBytes);
        Assert.Equal(symbols, VnetSymbols.All.Count);
        Assert.Throws<KeyNotFoundException>(() => VnetSymbols.Find("big_table"));
    }

    [Fact]
    public void AModulesOidsAppearWithItsTunableAndVanishOnUnload()
    {
        Vnet? existing = Vnet.IsVimage ? Vnet.Create("tun-existing") : null;
        Assert.False(Sysctl.Exists("test.mod.knob"));
        SysctlTunables.Set("test.mod.knob", "77");
        KernelModule module = KernelModule.Load(ModulePath("Vimage.TestModule"));
        try
        {
            Assert.Equal(77, Sysctl.Get("test.mod.knob", Vnet.Vnet0));
            if (existing is not null)
            {
                // The tunable reaches the master before the module's data is propagated: every vnet starts at 77.
                Assert.Equal(77, Sysctl.Get("test.mod.knob", existing));
                Vnet later = Vnet.Create("tun-later");
                Assert.Equal(77, Sysctl.Get("test.mod.knob", later));
                Sysctl.Set("test.mod.knob", "5", later);
                Assert.Equal(77, Sysctl.Get("test.mod.knob", existing));
                later.Destroy();
            }

            Assert.Contains("test.mod.knob", Sysctl.List("test", SysctlListOptions.NamesOnly));
        }
        finally
        {
            SysctlTunables.Unset("test.mod.knob");
            module.Unload();
            existing?.Destroy();
        }

        Assert.False(Sysctl.Exists("test.mod.knob"));
        Assert.False(Sysctl.Exists("test.mod"));
        Assert.Equal(SysctlError.UnknownOid, Assert.Throws<SysctlException>(() => Sysctl.Get("test.mod.knob")).Error);
    }

    [Fact]
    public void LoadingAMissingModuleIsAClearError()
    {
        var e = Assert.Throws<FileNotFoundException>(() => KernelModule.Load(ModulePath("Nope")));
        Assert.Contains("no such module", e.Message);
    }

#if VIMAGE
    [Fact]
    public void AModuleLoadedWhileVnetsAreBeingCreatedReachesEveryOne()
    {
        // FreeBSD can miss a vnet that is under construction while a module loads (reference §6).
        using var stop = new CancellationTokenSource();
        var created = new System.Collections.Concurrent.ConcurrentBag<Vnet>();
        var creator = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                created.Add(Vnet.Create("race"));
            }
        });
        creator.Start();
        try
        {
            for (int round = 0; round < 5; round++)
            {
                KernelModule module = KernelModule.Load(ModulePath("Vimage.TestModule"));
                int loadedAt = created.Count;
                Assert.True(SpinWait.SpinUntil(() => created.Count > loadedAt + 1, 10_000), "vnets were created while the module was loaded");
                foreach (Vnet v in Vnet.List())
                {
                    Assert.Equal(143L, Call<long>(module, "Counter", v));
                }

                module.Unload();
            }
        }
        finally
        {
            stop.Cancel();
            creator.Join();
            foreach (Vnet v in created)
            {
                v.Destroy();
            }
        }

        Assert.True(created.Count > 0);
    }
#endif
}
