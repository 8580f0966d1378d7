using System.Reflection;
using System.Runtime.Loader;

namespace Vimage.Core.Linker;

/// <summary>Runs a module's teardown when its collectible load context starts unloading (kldunload).</summary>
internal static class ModuleUnload
{
    public static void OnUnload(Assembly assembly, Action teardown)
    {
        AssemblyLoadContext? context = AssemblyLoadContext.GetLoadContext(assembly);
        if (context is null || context == AssemblyLoadContext.Default || !context.IsCollectible)
        {
            return; // never unloaded
        }

        context.Unloading += _ => teardown();
    }
}
