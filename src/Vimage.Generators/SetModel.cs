using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Vimage.Generators
{
    internal enum ItemKind
    {
        Vnet,
        PerCpu,
        Sysinit,
        Sysuninit,

        /// <summary>A [Sysctl] declaration, on a [Vnet] field or on a plain static field (a global knob).</summary>
        Sysctl,
    }

    /// <summary>A <see cref="Location"/> without a syntax-tree reference, so models compare by value.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

        public static LocationInfo? From(Location? location)
            => location is null || location.SourceTree is null
                ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<StringValue> Args)
    {
        public Diagnostic ToDiagnostic()
        {
            object[] args = new object[Args.Length];
            for (int i = 0; i < args.Length; i++)
            {
                args[i] = Args[i].Value;
            }

            return Diagnostic.Create(Descriptor, Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, args);
        }
    }

    /// <summary>String wrapper: <see cref="EquatableArray{T}"/> needs an <see cref="IEquatable{T}"/> element.</summary>
    internal readonly record struct StringValue(string Value)
    {
        public static implicit operator StringValue(string value) => new(value);

        public override string ToString() => Value;
    }

    /// <summary>One enclosing type declaration: its modifiers and keyword (e.g. "static partial class") and name.</summary>
    internal readonly record struct TypeDecl(string Declaration, string Name);

    /// <summary>The type that declares a linker-set member, with every enclosing type, outermost first.</summary>
    internal sealed record ContainingType(
        string Namespace,
        EquatableArray<TypeDecl> Chain,
        string DisplayName,
        string GlobalName);

    /// <summary>The using directives of the source file that declares a member, copied so that verbatim initializers bind.</summary>
    internal sealed record FileContext(
        string FilePath,
        EquatableArray<StringValue> FileUsings,
        EquatableArray<StringValue> NamespaceUsings);

    /// <summary>
    /// What a [Sysctl] attribute says: the OID's name, CTLFLAG_* bits, description and bounds, and whether the field
    /// it sits on is a [Vnet] variable (else a plain static field).
    /// </summary>
    internal sealed record SysctlModel(
        string Name,
        uint Flags,
        string Description,
        long Min,
        long Max,
        int MaxLength,
        bool OnVnet);

    /// <summary>
    /// One [Vnet]/[PerCpu] field, [VnetSysinit]/[VnetSysuninit] method or [Sysctl] declaration. <see cref="Valid"/>
    /// is false when a diagnostic stops it from being emitted.
    /// </summary>
    internal sealed record Item(
        ItemKind Kind,
        ContainingType? Type,
        FileContext File,
        int Position,
        LocationInfo? Location,
        string MemberName,
        string MemberIdentifier,
        string SymbolName,
        string MemberType,
        bool IsReference,
        string Accessibility,
        string? Initializer,
        uint Subsystem,
        uint Order,
        bool Valid,
        EquatableArray<DiagnosticInfo> Diagnostics,
        SysctlModel? Sysctl = null)
    {
        public bool IsField => Kind is ItemKind.Vnet or ItemKind.PerCpu;

        /// <summary>A [Sysctl] on a plain static field: it needs its own __vimage_ref_ helper (a [Vnet] field has one).</summary>
        public bool IsGlobalSysctl => Kind == ItemKind.Sysctl && Sysctl is { OnVnet: false };

        /// <summary>Whether the containing type's partial gets a member for this item.</summary>
        public bool EmitsMember => Kind != ItemKind.Sysctl || IsGlobalSysctl;
    }

    /// <summary>Compilation-wide settings that change the emitted code.</summary>
    internal sealed record CompilationInfo(string AssemblyName, bool Vimage, bool AllowUnsafe);
}
