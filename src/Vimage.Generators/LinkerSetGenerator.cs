using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Vimage.Generators
{
    /// <summary>
    /// The linker: collects every [Vnet]/[PerCpu] field and [VnetSysinit]/[VnetSysuninit] method of the assembly into
    /// one generated linker-set class, and gives each containing type its V_/DPCPU_ accessors. Whether the
    /// <c>VIMAGE</c> symbol is defined picks virtualized or plain-global accessors.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class LinkerSetGenerator : IIncrementalGenerator
    {
        public const string VimageSymbol = "VIMAGE";

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValueProvider<ImmutableArray<Item?>> vnet = Fields(context, ModelBuilder.VnetAttribute, ItemKind.Vnet);
            IncrementalValueProvider<ImmutableArray<Item?>> perCpu = Fields(context, ModelBuilder.PerCpuAttribute, ItemKind.PerCpu);
            IncrementalValueProvider<ImmutableArray<Item?>> sysinit = Methods(context, ModelBuilder.SysinitAttribute, ItemKind.Sysinit);
            IncrementalValueProvider<ImmutableArray<Item?>> sysuninit =
                Methods(context, ModelBuilder.SysuninitAttribute, ItemKind.Sysuninit);

            IncrementalValueProvider<EquatableArray<Item>> items = vnet.Combine(perCpu).Combine(sysinit).Combine(sysuninit)
                .Select(static (all, _) => new EquatableArray<Item>(
                    all.Left.Left.Left.Concat(all.Left.Left.Right).Concat(all.Left.Right).Concat(all.Right)
                        .Where(static i => i is not null).Select(static i => i!).ToImmutableArray()));

            IncrementalValueProvider<CompilationInfo> info = context.CompilationProvider
                .Select(static (c, _) => (c.AssemblyName, c is CSharpCompilation { Options.AllowUnsafe: true }))
                .Combine(context.ParseOptionsProvider.Select(static (o, _) => o.PreprocessorSymbolNames.Contains(VimageSymbol)))
                .Select(static (x, _) => new CompilationInfo(x.Left.AssemblyName ?? string.Empty, x.Right, x.Left.Item2));

            context.RegisterSourceOutput(items.Combine(info), static (spc, input) => Execute(spc, input.Left, input.Right));
        }

        private static IncrementalValueProvider<ImmutableArray<Item?>> Fields(
            IncrementalGeneratorInitializationContext context, string attribute, ItemKind kind)
            => context.SyntaxProvider.ForAttributeWithMetadataName(
                attribute,
                static (node, _) => node is VariableDeclaratorSyntax,
                (ctx, ct) => ModelBuilder.Field(ctx, kind, ct)).Collect();

        private static IncrementalValueProvider<ImmutableArray<Item?>> Methods(
            IncrementalGeneratorInitializationContext context, string attribute, ItemKind kind)
            => context.SyntaxProvider.ForAttributeWithMetadataName(
                attribute,
                static (node, _) => node is MethodDeclarationSyntax or LocalFunctionStatementSyntax,
                (ctx, ct) => ModelBuilder.Method(ctx, kind, ct)).Collect();

        private static void Execute(SourceProductionContext context, EquatableArray<Item> all, CompilationInfo info)
        {
            List<Item> valid = new();
            foreach (Item item in all)
            {
                foreach (DiagnosticInfo diagnostic in item.Diagnostics)
                {
                    context.ReportDiagnostic(diagnostic.ToDiagnostic());
                }

                if (item.Valid && item.Type is not null)
                {
                    valid.Add(item);
                }
            }

            RemoveConflicts(context, valid);
            if (valid.Count == 0)
            {
                return;
            }

            foreach ((string hintName, string source) in Emitter.Emit(valid, info))
            {
                context.AddSource(hintName, source);
            }
        }

        /// <summary>VIM008: two fields of one type with the same symbol name would get the same accessors.</summary>
        private static void RemoveConflicts(SourceProductionContext context, List<Item> items)
        {
            Dictionary<(string Type, string Symbol), Item> seen = new();
            foreach (Item item in items.Where(i => i.IsField).OrderBy(i => i.File.FilePath, System.StringComparer.Ordinal)
                         .ThenBy(i => i.Position).ThenBy(i => i.Kind).ToList())
            {
                if (!seen.TryGetValue((item.Type!.GlobalName, item.SymbolName), out Item? other))
                {
                    seen.Add((item.Type.GlobalName, item.SymbolName), item);
                    continue;
                }

                string reason = other.MemberName == item.MemberName
                    ? "a field cannot be both [Vnet] and [PerCpu]"
                    : "both map to the symbol name '" + item.SymbolName + "'";
                context.ReportDiagnostic(Diagnostic.Create(Diagnostics.Conflict, item.Location?.ToLocation(), item.MemberName, item.Type.DisplayName,
                    other.MemberName, reason));
                items.Remove(item);
            }
        }
    }
}
