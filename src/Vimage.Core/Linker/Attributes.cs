namespace Vimage.Core;

/// <summary>
/// DPCPU_DEFINE: a static field whose value exists once per CPU. The field itself is the set's reference copy;
/// the source generator emits <c>DPCPU_&lt;name&gt;</c> accessors. Only unmanaged types are allowed.
/// </summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class PerCpuAttribute : Attribute;

/// <summary>
/// VNET_DEFINE: a static field whose value exists once per virtual network stack. The field itself is the
/// reference copy (its initializer is the static initialization); the source generator emits <c>V_&lt;name&gt;</c>
/// accessors. Code must go through the accessors, never the field.
/// </summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class VnetAttribute : Attribute;

/// <summary>VNET_SYSINIT: a <c>static void M()</c> run in every vnet, ordered by (subsystem, order).</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class VnetSysinitAttribute(SiSub subsystem, SiOrder order) : Attribute
{
    public SiSub Subsystem { get; } = subsystem;
    public SiOrder Order { get; } = order;
}

/// <summary>VNET_SYSUNINIT: a <c>static void M()</c> run when a vnet is destroyed, in reverse (subsystem, order).</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class VnetSysuninitAttribute(SiSub subsystem, SiOrder order) : Attribute
{
    public SiSub Subsystem { get; } = subsystem;
    public SiOrder Order { get; } = order;
}
