using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace Vimage.Core.Linker;

/// <summary>
/// The "kernel link" done once at boot: every assembly of the default load context that is loaded or statically
/// referenced, and that references Vimage.Core, has its module initializer run so its linker sets register into
/// the static part of the regions. Sets that register after boot are modules and go to the reserve.
/// </summary>
internal static class KernelLink
{
    /// <summary>One lock for registering sets and booting, shared by DPCPU and VNET (one lock order).</summary>
    public static readonly object SyncRoot = new();

    private static readonly string CoreName = typeof(KernelLink).Assembly.GetName().Name!;

    public static void RegisterStaticAssemblies()
    {
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            return; // NativeAOT (libvimage_packetdrill.so) ran every module initializer at start-up, and has no assembly references to walk
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<Assembly>(AssemblyLoadContext.Default.Assemblies);
        while (pending.Count > 0)
        {
            Assembly assembly = pending.Dequeue();
            if (assembly.IsDynamic || !seen.Add(assembly.FullName ?? assembly.GetName().Name!) || !IsVimageUser(assembly))
            {
                continue;
            }

            RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
            foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
            {
                if (seen.Contains(reference.FullName))
                {
                    continue;
                }

                try
                {
                    pending.Enqueue(AssemblyLoadContext.Default.LoadFromAssemblyName(reference));
                }
                catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
                {
                    // An optional reference that is not deployed cannot hold a set we need.
                }
            }
        }
    }

    public static bool IsModuleContext(Assembly assembly)
        => AssemblyLoadContext.GetLoadContext(assembly) is { } context && context != AssemblyLoadContext.Default;

    private static bool IsVimageUser(Assembly assembly)
    {
        if (assembly.GetName().Name == CoreName)
        {
            return true;
        }

        foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
        {
            if (reference.Name == CoreName)
            {
                return true;
            }
        }

        return false;
    }
}
