namespace Vimage.Core.Linker;

/// <summary>One VNET_SYSINIT or VNET_SYSUNINIT record: a function and its (subsystem, order) key.</summary>
public sealed class SysinitEntry
{
    public SysinitEntry(SiSub subsystem, SiOrder order, string name, Action function)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (subsystem <= SiSub.SI_SUB_VNET || subsystem > SiSub.SI_SUB_VNET_DONE)
        {
            throw new ArgumentOutOfRangeException(nameof(subsystem),
                $"vnet sysinit {name}: subsystem 0x{(uint)subsystem:x} must lie in (SI_SUB_VNET, SI_SUB_VNET_DONE]");
        }

        Subsystem = subsystem;
        Order = order;
        Name = name;
        Function = function;
    }

    public SiSub Subsystem { get; }
    public SiOrder Order { get; }
    public string Name { get; }
    public Action Function { get; }

    public override string ToString() => $"{Name} (0x{(uint)Subsystem:x}, 0x{(uint)Order:x})";
}
