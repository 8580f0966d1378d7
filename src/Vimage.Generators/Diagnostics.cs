using Microsoft.CodeAnalysis;

namespace Vimage.Generators
{
    internal static class Diagnostics
    {
        private const string Category = "Vimage";

        public static readonly DiagnosticDescriptor NotStaticMutable = new(
            "VIM001",
            "Virtualized global must be a mutable static field",
            "[{0}] field '{1}' must be a static field that is not readonly, const or volatile",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor PerCpuNotUnmanaged = new(
            "VIM002",
            "DPCPU variables must be unmanaged",
            "DPCPU variables must be unmanaged: '{0}' is a reference type or contains references (field '{1}')",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BadContainingType = new(
            "VIM003",
            "Containing type cannot receive generated accessors",
            "'{1}' cannot get generated accessors: its containing type '{0}' {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor DirectAccess = new(
            "VIM004",
            "Virtualized global accessed directly",
            "'{0}' is the reference copy of a virtualized global; use {1} instead",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BadSysinitMethod = new(
            "VIM005",
            "Sysinit method must be static void and parameterless",
            "[{0}] method '{1}' must be a non-generic 'static void {1}()' method of a type",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SubsystemOutOfRange = new(
            "VIM006",
            "VNET sysinit subsystem out of range",
            "[{0}] on '{1}': subsystem 0x{2} must lie in (SI_SUB_VNET, SI_SUB_VNET_DONE] = (0x21e0000, 0xdc00000]",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnusableType = new(
            "VIM007",
            "Virtualized global type is unusable",
            "[{0}] field '{1}' has type '{2}': {3}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Conflict = new(
            "VIM008",
            "Conflicting virtualized globals",
            "'{0}' in '{1}' conflicts with '{2}': {3}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SysctlVnetFlagOnGlobal = new(
            "VIM009",
            "CTLFLAG_VNET on a variable that is not [Vnet]",
            "CTLFLAG_VNET needs a [Vnet] variable: '{0}' is a plain global (drop SysctlFlags.VNET or make the field [Vnet])",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SysctlBadField = new(
            "VIM010",
            "Unsupported [Sysctl] field",
            "[Sysctl] field '{0}' {1}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SysctlBadName = new(
            "VIM011",
            "Invalid or duplicate sysctl name",
            "[Sysctl] on '{0}': {1}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SysctlBadBounds = new(
            "VIM012",
            "Invalid sysctl bounds",
            "[Sysctl] on '{0}': {1}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
    }
}
