using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Vimage.Generators
{
    /// <summary>Turns one attributed field or method into an <see cref="Item"/>, checking it on the way.</summary>
    internal static class ModelBuilder
    {
        public const string VnetAttribute = "Vimage.Core.VnetAttribute";
        public const string PerCpuAttribute = "Vimage.Core.PerCpuAttribute";
        public const string SysinitAttribute = "Vimage.Core.VnetSysinitAttribute";
        public const string SysuninitAttribute = "Vimage.Core.VnetSysuninitAttribute";
        public const string SysctlAttribute = "Vimage.Core.SysctlAttribute";

        /// <summary>CTLFLAG_VNET.</summary>
        public const uint CtlFlagVnet = 0x00020000;

        public const int DefaultMaxLength = 255;

        public const uint SiSubVnet = 0x21E0000;
        public const uint SiSubVnetDone = 0xdc00000;

        /// <summary>Fully qualified, with nullable annotations: generated code compiles whatever the usings.</summary>
        public static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
            .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

        public static Item? Field(GeneratorAttributeSyntaxContext context, ItemKind kind, CancellationToken cancellationToken)
        {
            if (context.TargetSymbol is not IFieldSymbol field || context.TargetNode is not VariableDeclaratorSyntax declarator)
            {
                return null;
            }

            cancellationToken.ThrowIfCancellationRequested();
            string attribute = kind == ItemKind.Vnet ? "Vnet" : "PerCpu";
            LocationInfo? location = LocationInfo.From(declarator.Identifier.GetLocation());
            ImmutableArray<DiagnosticInfo>.Builder diagnostics = ImmutableArray.CreateBuilder<DiagnosticInfo>();
            bool valid = true;

            if (!field.IsStatic || field.IsReadOnly || field.IsConst || field.IsVolatile)
            {
                diagnostics.Add(Diag(Diagnostics.NotStaticMutable, location, attribute, field.Name));
                valid = false;
            }

            ITypeSymbol type = field.Type;
            string typeName = type.ToDisplayString(TypeFormat);
            bool isReference = false;
            if (type.TypeKind == TypeKind.Error)
            {
                valid = false; // the compiler already reports it
            }
            else if (type is IPointerTypeSymbol or IFunctionPointerTypeSymbol || type.IsRefLikeType)
            {
                diagnostics.Add(Diag(Diagnostics.UnusableType, location, attribute, field.Name, typeName,
                    "pointers and ref structs cannot be per-vnet or per-CPU variables"));
                valid = false;
            }
            else if (type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
            {
                diagnostics.Add(Diag(Diagnostics.UnusableType, location, attribute, field.Name, typeName,
                    "Nullable<T> does not satisfy the 'unmanaged' constraint; store a value and a flag instead"));
                valid = false;
            }
            else if (kind == ItemKind.PerCpu && !type.IsUnmanagedType)
            {
                diagnostics.Add(Diag(Diagnostics.PerCpuNotUnmanaged, location, typeName, field.Name));
                valid = false;
            }
            else if (kind == ItemKind.Vnet && !type.IsUnmanagedType)
            {
                if (type.IsReferenceType)
                {
                    isReference = true;
                }
                else
                {
                    diagnostics.Add(Diag(Diagnostics.UnusableType, location, attribute, field.Name, typeName,
                        "a struct that contains references cannot be virtualized; use an unmanaged struct or a class"));
                    valid = false;
                }
            }

            if (valid && type.TypeKind != TypeKind.Error && !IsVisibleAssemblyWide(type))
            {
                diagnostics.Add(Diag(Diagnostics.UnusableType, location, attribute, field.Name, typeName,
                    "the type is private or protected, but the generated linker set and accessors need it to be at least internal"));
                valid = false;
            }

            ContainingType? containing = BuildContainingType(field.ContainingType, field.Name, location, diagnostics, ref valid);

            return new Item(
                kind,
                containing,
                BuildFileContext(declarator),
                declarator.SpanStart,
                location,
                field.Name,
                Identifier(field.Name),
                SymbolName(field.Name),
                typeName,
                isReference,
                AccessibilityText(field.DeclaredAccessibility),
                isReference ? declarator.Initializer?.Value.ToString() : null,
                0,
                0,
                valid,
                new EquatableArray<DiagnosticInfo>(diagnostics.ToImmutable()));
        }

        /// <summary>
        /// A [Sysctl] field. On a [Vnet] field the [Vnet] item owns the field's shape (VIM001/VIM003/VIM007) and
        /// its accessors; this item only carries the OID and is matched to that variable by the emitter. On a plain
        /// static field it also gets a __vimage_ref_ helper, so the containing-type rules (VIM003) apply here.
        /// </summary>
        public static Item? Sysctl(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            if (context.TargetSymbol is not IFieldSymbol field || context.TargetNode is not VariableDeclaratorSyntax declarator
                || context.Attributes.IsEmpty)
            {
                return null;
            }

            cancellationToken.ThrowIfCancellationRequested();
            LocationInfo? location = LocationInfo.From(declarator.Identifier.GetLocation());
            ImmutableArray<DiagnosticInfo>.Builder diagnostics = ImmutableArray.CreateBuilder<DiagnosticInfo>();
            bool valid = true;

            bool onVnet = false, onPerCpu = false;
            foreach (AttributeData attribute in field.GetAttributes())
            {
                string? attributeName = attribute.AttributeClass?.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
                onVnet |= attributeName == "global::" + VnetAttribute;
                onPerCpu |= attributeName == "global::" + PerCpuAttribute;
            }

            // The attribute's arguments; bad ones are already compiler errors.
            string name = string.Empty, description = string.Empty;
            uint flags = 0;
            long min = long.MinValue, max = long.MaxValue;
            int maxLength = DefaultMaxLength;
            AttributeData data = context.Attributes[0];
            if (data.AttributeConstructor is null || data.ConstructorArguments.Length != 3
                || data.ConstructorArguments.Any(static a => a.Kind == TypedConstantKind.Error)
                || data.NamedArguments.Any(static a => a.Value.Kind == TypedConstantKind.Error))
            {
                valid = false;
            }
            else
            {
                name = data.ConstructorArguments[0].Value as string ?? string.Empty;
                flags = data.ConstructorArguments[1].Value is uint f ? f : 0;
                description = data.ConstructorArguments[2].Value as string ?? string.Empty;
                foreach (System.Collections.Generic.KeyValuePair<string, TypedConstant> named in data.NamedArguments)
                {
                    switch (named.Key)
                    {
                        case "Min" when named.Value.Value is long v:
                            min = v;
                            break;
                        case "Max" when named.Value.Value is long v:
                            max = v;
                            break;
                        case "MaxLength" when named.Value.Value is int v:
                            maxLength = v;
                            break;
                    }
                }

                string? nameProblem = NameProblem(name);
                if (nameProblem is not null)
                {
                    diagnostics.Add(Diag(Diagnostics.SysctlBadName, location, field.Name, nameProblem));
                    valid = false;
                }

                if (min > max)
                {
                    diagnostics.Add(Diag(Diagnostics.SysctlBadBounds, location, field.Name,
                        "Min (" + min.ToString(CultureInfo.InvariantCulture) + ") is greater than Max ("
                        + max.ToString(CultureInfo.InvariantCulture) + ")"));
                    valid = false;
                }

                if (maxLength < 0)
                {
                    diagnostics.Add(Diag(Diagnostics.SysctlBadBounds, location, field.Name,
                        "MaxLength (" + maxLength.ToString(CultureInfo.InvariantCulture) + ") is negative"));
                    valid = false;
                }
            }

            ITypeSymbol type = field.Type;
            string typeName = type.ToDisplayString(TypeFormat);
            string? fieldProblem = null;
            if (onPerCpu)
            {
                fieldProblem = "is [PerCpu]: a per-CPU variable cannot be a sysctl (export a sum through a handler instead)";
            }
            else if (!onVnet && (!field.IsStatic || field.IsReadOnly || field.IsConst || field.IsVolatile))
            {
                // A [Vnet] field with this problem already gets VIM001.
                fieldProblem = "must be a static field that is not readonly, const or volatile";
            }
            else if (type.TypeKind == TypeKind.Error)
            {
                valid = false; // the compiler already reports it
            }
            else if (IsVnetPcpuStat(type))
            {
                if (!onVnet)
                {
                    fieldProblem = "has type '" + typeName + "': VNET_PCPUSTAT statistics must be a [Vnet] field";
                }
            }
            else if (type.SpecialType is not (SpecialType.System_Int32 or SpecialType.System_UInt32 or SpecialType.System_Int64
                     or SpecialType.System_UInt64 or SpecialType.System_Boolean or SpecialType.System_String))
            {
                fieldProblem = "has type '" + typeName
                    + "': a sysctl variable must be int, uint, long, ulong, bool, string or (on a [Vnet] field) VnetPcpuStat<T>";
            }

            if (fieldProblem is not null)
            {
                diagnostics.Add(Diag(Diagnostics.SysctlBadField, location, field.Name, fieldProblem));
                valid = false;
            }

            if ((flags & CtlFlagVnet) != 0 && !onVnet && !onPerCpu)
            {
                diagnostics.Add(Diag(Diagnostics.SysctlVnetFlagOnGlobal, location, field.Name));
                valid = false;
            }

            // On a [Vnet] field, that item reports containing-type problems; do not report them twice.
            ImmutableArray<DiagnosticInfo>.Builder typeDiagnostics = onVnet ? ImmutableArray.CreateBuilder<DiagnosticInfo>() : diagnostics;
            ContainingType? containing = BuildContainingType(field.ContainingType, field.Name, location, typeDiagnostics, ref valid);

            return new Item(
                ItemKind.Sysctl,
                containing,
                BuildFileContext(declarator),
                declarator.SpanStart,
                location,
                field.Name,
                Identifier(field.Name),
                SymbolName(field.Name),
                typeName,
                type.IsReferenceType,
                AccessibilityText(field.DeclaredAccessibility),
                null,
                0,
                0,
                valid,
                new EquatableArray<DiagnosticInfo>(diagnostics.ToImmutable()),
                new SysctlModel(name, flags, description, min, max, maxLength, onVnet));
        }

        /// <summary>What is wrong with an OID name (VIM011), or null.</summary>
        public static string? NameProblem(string name)
        {
            if (name.Length == 0)
            {
                return "the sysctl name is empty";
            }

            foreach (char c in name)
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c))
                {
                    return "the sysctl name '" + name + "' contains whitespace or control characters";
                }
            }

            if (name[0] == '.' || name[name.Length - 1] == '.')
            {
                return "the sysctl name '" + name + "' starts or ends with '.'";
            }

            if (name.Contains(".."))
            {
                return "the sysctl name '" + name + "' has an empty component";
            }

            return null;
        }

        private static bool IsVnetPcpuStat(ITypeSymbol type)
            => type is INamedTypeSymbol { Arity: 1, Name: "VnetPcpuStat", ContainingType: null } named
               && named.ContainingNamespace.ToDisplayString() == "Vimage.Core";

        public static Item? Method(GeneratorAttributeSyntaxContext context, ItemKind kind, CancellationToken cancellationToken)
        {
            if (context.TargetSymbol is not IMethodSymbol method || context.Attributes.IsEmpty)
            {
                return null;
            }

            cancellationToken.ThrowIfCancellationRequested();
            string attribute = kind == ItemKind.Sysinit ? "VnetSysinit" : "VnetSysuninit";
            SyntaxNode node = context.TargetNode;
            LocationInfo? location = LocationInfo.From(method.Locations.FirstOrDefault() ?? node.GetLocation());
            ImmutableArray<DiagnosticInfo>.Builder diagnostics = ImmutableArray.CreateBuilder<DiagnosticInfo>();
            bool valid = true;

            if (method.MethodKind != MethodKind.Ordinary || !method.IsStatic || !method.ReturnsVoid
                || method.Parameters.Length != 0 || method.IsGenericMethod || method.ContainingType is null)
            {
                diagnostics.Add(Diag(Diagnostics.BadSysinitMethod, location, attribute, method.Name));
                valid = false;
            }

            uint subsystem = 0, order = 0;
            AttributeData data = context.Attributes[0];
            if (data.AttributeConstructor is null || data.ConstructorArguments.Length != 2
                || data.ConstructorArguments[0].Value is not uint sub || data.ConstructorArguments[1].Value is not uint ord)
            {
                valid = false; // the compiler already reports bad arguments
            }
            else
            {
                subsystem = sub;
                order = ord;
                if (subsystem <= SiSubVnet || subsystem > SiSubVnetDone)
                {
                    diagnostics.Add(Diag(Diagnostics.SubsystemOutOfRange, location, attribute, method.Name, subsystem.ToString("x")));
                    valid = false;
                }
            }

            ContainingType? containing = method.MethodKind == MethodKind.Ordinary && method.ContainingType is not null
                ? BuildContainingType(method.ContainingType, method.Name, location, diagnostics, ref valid)
                : null;

            return new Item(
                kind,
                containing,
                BuildFileContext(node),
                node.SpanStart,
                location,
                method.Name,
                Identifier(method.Name),
                method.Name,
                "void",
                false,
                AccessibilityText(method.DeclaredAccessibility),
                null,
                subsystem,
                order,
                valid,
                new EquatableArray<DiagnosticInfo>(diagnostics.ToImmutable()));
        }

        /// <summary>FreeBSD's symbol name: the field name without a leading <c>s_</c> or <c>_</c>.</summary>
        public static string SymbolName(string fieldName)
        {
            string name = fieldName.StartsWith("s_", System.StringComparison.Ordinal) ? fieldName.Substring(2)
                : fieldName.StartsWith("_", System.StringComparison.Ordinal) ? fieldName.Substring(1)
                : fieldName;
            return name.Length == 0 ? fieldName : name;
        }

        public static string Identifier(string name)
            => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None
                ? "@" + name
                : name;

        private static ContainingType? BuildContainingType(
            INamedTypeSymbol type,
            string memberName,
            LocationInfo? location,
            ImmutableArray<DiagnosticInfo>.Builder diagnostics,
            ref bool valid)
        {
            ImmutableArray<TypeDecl>.Builder chain = ImmutableArray.CreateBuilder<TypeDecl>();
            for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
            {
                string? problem = TypeProblem(t);
                if (problem is not null)
                {
                    diagnostics.Add(Diag(Diagnostics.BadContainingType, location, t.ToDisplayString(), memberName, problem));
                    valid = false;
                    return null;
                }

                chain.Insert(0, new TypeDecl(Declaration(t), Identifier(t.Name)));
            }

            string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n
                ? n.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Substring("global::".Length)
                : string.Empty;
            return new ContainingType(ns, new EquatableArray<TypeDecl>(chain.ToImmutable()), type.ToDisplayString(),
                type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat));
        }

        private static string? TypeProblem(INamedTypeSymbol type)
        {
            if (type.TypeKind is not (TypeKind.Class or TypeKind.Struct or TypeKind.Interface))
            {
                return "is not a class, struct or interface";
            }

            if (type.TypeParameters.Length != 0)
            {
                return "is generic";
            }

            if (type.IsFileLocal)
            {
                return "is file-local";
            }

            if (type.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
            {
                return "is private or protected: the assembly's linker set must be able to reach it";
            }

            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax() is not TypeDeclarationSyntax declaration
                    || !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    return "is not declared partial";
                }
            }

            return null;
        }

        private static string Declaration(INamedTypeSymbol type)
        {
            string modifiers = type.IsStatic ? "static " : string.Empty;
            if (type.TypeKind == TypeKind.Struct)
            {
                modifiers += (type.IsReadOnly ? "readonly " : string.Empty) + (type.IsRefLikeType ? "ref " : string.Empty);
            }

            string keyword = type.TypeKind switch
            {
                TypeKind.Struct => type.IsRecord ? "record struct" : "struct",
                TypeKind.Interface => "interface",
                _ => type.IsRecord ? "record" : "class",
            };
            return modifiers + "partial " + keyword;
        }

        private static FileContext BuildFileContext(SyntaxNode node)
        {
            ImmutableArray<StringValue>.Builder fileUsings = ImmutableArray.CreateBuilder<StringValue>();
            if (node.SyntaxTree.GetRoot() is CompilationUnitSyntax unit)
            {
                AddDirectives(unit.Externs, unit.Usings, fileUsings);
            }

            ImmutableArray<StringValue>.Builder namespaceUsings = ImmutableArray.CreateBuilder<StringValue>();
            foreach (BaseNamespaceDeclarationSyntax ns in node.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().Reverse())
            {
                AddDirectives(ns.Externs, ns.Usings, namespaceUsings);
            }

            return new FileContext(node.SyntaxTree.FilePath, new EquatableArray<StringValue>(fileUsings.ToImmutable()),
                new EquatableArray<StringValue>(namespaceUsings.ToImmutable()));
        }

        private static void AddDirectives(
            SyntaxList<ExternAliasDirectiveSyntax> externs,
            SyntaxList<UsingDirectiveSyntax> usings,
            ImmutableArray<StringValue>.Builder into)
        {
            foreach (ExternAliasDirectiveSyntax e in externs)
            {
                into.Add(e.ToString());
            }

            foreach (UsingDirectiveSyntax u in usings)
            {
                if (u.GlobalKeyword.IsKind(SyntaxKind.None))
                {
                    into.Add(u.ToString());
                }
            }
        }

        private static string AccessibilityText(Accessibility accessibility) => accessibility switch
        {
            Accessibility.Public => "public",
            Accessibility.Internal => "internal",
            Accessibility.Protected => "protected",
            Accessibility.ProtectedOrInternal => "protected internal",
            Accessibility.ProtectedAndInternal => "private protected",
            _ => "private",
        };

        /// <summary>True when code anywhere in the assembly can name the type (generated code lives in other classes).</summary>
        private static bool IsVisibleAssemblyWide(ITypeSymbol type)
        {
            switch (type)
            {
                case IArrayTypeSymbol array:
                    return IsVisibleAssemblyWide(array.ElementType);
                case INamedTypeSymbol named:
                    for (INamedTypeSymbol? t = named; t is not null; t = t.ContainingType)
                    {
                        if (t.DeclaredAccessibility is Accessibility.Private or Accessibility.Protected or Accessibility.ProtectedAndInternal)
                        {
                            return false;
                        }
                    }

                    foreach (ITypeSymbol argument in named.TypeArguments)
                    {
                        if (!IsVisibleAssemblyWide(argument))
                        {
                            return false;
                        }
                    }

                    return true;
                default:
                    return true;
            }
        }

        private static DiagnosticInfo Diag(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args)
            => new(descriptor, location, new EquatableArray<StringValue>(args.Select(a => new StringValue(a)).ToImmutableArray()));
    }
}
