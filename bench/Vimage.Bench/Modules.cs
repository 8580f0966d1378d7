using System.Reflection;
using Vimage.Core;
using Vimage.Core.Linker;

namespace Vimage.Bench;

/// <summary>Loads the benchmark modules from modules/ next to the executable and reaches them by reflection.</summary>
internal static class Modules
{
    public static KernelModule Load(string name)
        => KernelModule.Load(Path.Combine(AppContext.BaseDirectory, "modules", name + ".dll"));

    public static object? Get(KernelModule module, string type, string property)
        => TypeOf(module, type).GetProperty(property, BindingFlags.Public | BindingFlags.Static)!.GetValue(null);

    public static object? Call(KernelModule module, string type, string method, params object[] args)
        => TypeOf(module, type).GetMethod(method, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, args);

    /// <summary>The module's linked vnet set.</summary>
    public static VnetLinkerSet SetOf(KernelModule module)
        => VnetSystem.LinkedSets.Single(s => s.Assembly == module.Assembly);

    /// <summary>Bytes each vnet copies: from offset 0 to the end of the module's set (static line + module set).</summary>
    public static long BytesPerVnet(KernelModule module)
    {
        VnetLinkerSet set = SetOf(module);
        return set.Start + set.Variables.Where(v => !v.IsReference).Sum(v => (long)v.Size);
    }

    private static Type TypeOf(KernelModule module, string type)
        => module.Assembly.GetType(type, throwOnError: true)!;
}
