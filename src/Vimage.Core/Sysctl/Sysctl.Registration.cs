using System.Reflection;
using Vimage.Core.Linker;

namespace Vimage.Core;

public static partial class Sysctl
{
    // Tunables for [Vnet] OIDs of sets linked before boot wait here until the master copy exists.
    private static readonly List<(SysctlOid Oid, string Text)> PendingMasterTunables = [];

    internal static void RegisterDeclarations(Assembly assembly, SysctlDeclaration[] declarations)
    {
        var added = new List<SysctlOid>();
        try
        {
            foreach (SysctlDeclaration declaration in declarations)
            {
                SysctlOid oid = Build(assembly, declaration);
                Add(oid);
                added.Add(oid);
            }
        }
        catch
        {
            added.ForEach(o => Remove(o.Name));
            throw;
        }

        ModuleUnload.OnUnload(assembly, () => RemoveOwnedBy(assembly));
        foreach (SysctlOid oid in added)
        {
            ApplyTunable(oid, declarations.First(d => d.Name == oid.Name));
        }
    }

    /// <summary>Called by the vnet allocator once the master copy is built and before vnet0 is created.</summary>
    internal static void ApplyPendingTunables()
    {
        (SysctlOid Oid, string Text)[] pending;
        lock (PendingMasterTunables)
        {
            pending = [.. PendingMasterTunables];
            PendingMasterTunables.Clear();
        }

        foreach ((SysctlOid oid, string text) in pending)
        {
            StoreTunable(oid, text);
        }
    }

    private static SysctlOid Build(Assembly assembly, SysctlDeclaration d)
    {
        SetVariable variable = d.Variable;
        SysctlType type = SysctlValues.TypeOf(variable.Type);
        string opaqueName = type == SysctlType.Opaque && variable.Type.GetInterface(nameof(IPcpuStat)) is not null
            ? ((IPcpuStat)Activator.CreateInstance(variable.Type)!).StructName
            : "opaque";
        bool perVnet = d.Set is not null && (d.Flags & SysctlFlags.VNET) != 0;
        if ((d.Flags & SysctlFlags.VNET) != 0 && d.Set is null)
        {
            throw new SysctlException(SysctlError.InvalidValue, $"sysctl: {d.Name}: CTLFLAG_VNET needs a [Vnet] variable");
        }

        Func<Vnet, object?> read;
        Action<Vnet, object?> write;
        Action<object?> writeMaster;
        if (d.Set is { } set)
        {
            var symbol = new VnetSymbol(set, d.Index); // no lookup: registration must not boot the allocator
            read = perVnet ? v => VnetSymbols.Read(v, symbol) : _ => VnetSymbols.ReadMaster(symbol);
            write = perVnet ? (v, value) => VnetSymbols.Write(v, symbol, value) : (_, value) => VnetSymbols.WriteMaster(symbol, value);
            writeMaster = value => VnetSymbols.WriteMaster(symbol, value);
        }
        else
        {
            read = _ => variable.ReadField();
            write = (_, value) => variable.WriteField(value);
            writeMaster = variable.WriteField;
        }

        if (type == SysctlType.Opaque)
        {
            // VNET_PCPUSTAT: reading returns the struct summed over CPUs; any write zeroes it (netstat -z).
            Func<Vnet, object?> raw = read;
            read = v => (raw(v) as IPcpuStat)?.Snapshot();
            write = (v, _) => (raw(v) as IPcpuStat)?.Zero();
        }

        return new SysctlOid(d.Name, type, d.Flags, d.Description, assembly)
        {
            Min = d.Min,
            Max = d.Max,
            MaxLength = d.MaxLength,
            OpaqueName = opaqueName,
            Read = read,
            Write = (d.Flags & SysctlFlags.WR) != 0 ? write : null,
            WriteMaster = type == SysctlType.Opaque ? null : writeMaster,
        };
    }

    private static void ApplyTunable(SysctlOid oid, SysctlDeclaration declaration)
    {
        if (!oid.IsTunable || SysctlTunables.Get(oid.Name) is not { } text)
        {
            return;
        }

        bool staticVnetVariable = declaration.Set is { IsModule: false } && VnetKernel.IsVimage && !VnetKernel.IsMasterBuilt;
        if (staticVnetVariable)
        {
            lock (PendingMasterTunables)
            {
                PendingMasterTunables.Add((oid, text));
            }

            return;
        }

        StoreTunable(oid, text);
        if (declaration.Set is { IsModule: true } && VnetKernel.IsVimage)
        {
            // A module's values reach existing vnets through the master (LINKER_PROPAGATE_VNETS).
            var symbol = new VnetSymbol(declaration.Set, declaration.Index);
            object? value = VnetSymbols.ReadMaster(symbol);
            foreach (Vnet vnet in Vnet.List())
            {
                VnetSymbols.Write(vnet, symbol, value);
            }
        }
    }

    private static void StoreTunable(SysctlOid oid, string text)
    {
        try
        {
            oid.WriteMaster?.Invoke(SysctlValues.Convert(oid, text));
        }
        catch (SysctlException e)
        {
            SysctlTunables.ReportError($"tunable {oid.Name}=\"{text}\" ignored: {e.Message}");
        }
    }
}
