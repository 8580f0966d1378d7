using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace Vimage.Core.Linker;

/// <summary>
/// kldload/kldunload for .NET assemblies: loads an assembly into its own collectible load context and runs its
/// module initializer, which registers its DPCPU and VNET sets (placed in the reserves, copied into every CPU
/// and vnet, constructors run everywhere). <see cref="Unload"/> runs its destructors in every vnet and frees its
/// space for reuse. Vimage.Core itself always resolves to the host's copy, so there is one kernel.
/// </summary>
public sealed class KernelModule : IDisposable
{
    private readonly ModuleLoadContext _context;
    private bool _unloaded;

    private KernelModule(ModuleLoadContext context, Assembly assembly)
    {
        _context = context;
        Assembly = assembly;
    }

    public Assembly Assembly { get; }

    public string Name => Assembly.GetName().Name ?? "?";

    /// <summary>Loads <paramref name="path"/>; a failed registration (e.g. out of reserve) unloads it again and throws.</summary>
    public static KernelModule Load(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"kldload: {full}: no such module", full);
        }

        var context = new ModuleLoadContext(full);
        try
        {
            Assembly assembly = context.LoadFromAssemblyPath(full);
            RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
            return new KernelModule(context, assembly);
        }
        catch (Exception e)
        {
            context.Unload();
            Exception cause = e;
            while (cause is TypeInitializationException { InnerException: { } inner })
            {
                cause = inner; // the module initializer's and the linker set's class constructors wrap it
            }

            throw new InvalidOperationException($"kldload: {Path.GetFileName(full)}: {cause.Message}", cause);
        }
    }

    /// <summary>kldunload.</summary>
    public void Unload()
    {
        if (_unloaded)
        {
            return;
        }

        _unloaded = true;
        _context.Unload();
    }

    public void Dispose() => Unload();

    private sealed class ModuleLoadContext(string path) : AssemblyLoadContext($"kld:{Path.GetFileName(path)}", isCollectible: true)
    {
        private readonly AssemblyDependencyResolver _resolver = new(path);

        protected override Assembly? Load(AssemblyName name)
        {
            if (AssemblyLoadContext.Default.Assemblies.Any(a => AssemblyName.ReferenceMatchesDefinition(name, a.GetName())))
            {
                return null; // share the host's copy (Vimage.Core, the BCL)
            }

            string? resolved = _resolver.ResolveAssemblyToPath(name);
            return resolved is null ? null : LoadFromAssemblyPath(resolved);
        }
    }
}
