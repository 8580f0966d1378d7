using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Vimage.Generators
{
    /// <summary>
    /// The linker: collects every [Vnet]/[PerCpu] field, [VnetSysinit]/[VnetSysuninit] method and [Sysctl] declaration
    /// of the assembly into one generated linker-set class, and gives each containing type its V_/DPCPU_ accessors. Whether the
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

            IncrementalValueProvider<ImmutableArray<Item?>> sysctl = Fields(context, ModelBuilder.SysctlAttribute, ItemKind.Sysctl);

            IncrementalValueProvider<EquatableArray<Item>> items = vnet.Combine(perCpu).Combine(sysinit).Combine(sysuninit).Combine(sysctl)
                .Select(static (all, _) => new EquatableArray<Item>(
                    all.Left.Left.Left.Left.Concat(all.Left.Left.Left.Right).Concat(all.Left.Left.Right).Concat(all.Left.Right)
                        .Concat(all.Right).Where(static i => i is not null).Select(static i => i!).ToImmutableArray()));

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
                (ctx, ct) => kind == ItemKind.Sysctl ? ModelBuilder.Sysctl(ctx, ct) : ModelBuilder.Field(ctx, kind, ct)).Collect();

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
            ResolveSysctls(context, valid);
            if (valid.Count == 0)
            {
                return;
            }

            foreach ((string hintName, string source) in Emitter.Emit(valid, info))
            {
                context.AddSource(hintName, source);
            }
        }

        /// <summary>
        /// Drops a [Sysctl] on a [Vnet] field whose variable was dropped (its diagnostics say why), then reports VIM011
        /// for a name declared twice, or declared as a leaf while another OID of the assembly sits under it.
        /// </summary>
        private static void ResolveSysctls(SourceProductionContext context, List<Item> items)
        {
            HashSet<(string Type, string Member)> vnetFields = new(items.Where(i => i.Kind == ItemKind.Vnet)
                .Select(i => (i.Type!.GlobalName, i.MemberName)));
            items.RemoveAll(i => i.Sysctl is { OnVnet: true } && !vnetFields.Contains((i.Type!.GlobalName, i.MemberName)));

            List<Item> sysctls = items.Where(i => i.Kind == ItemKind.Sysctl)
                .OrderBy(i => i.File.FilePath, System.StringComparer.Ordinal).ThenBy(i => i.Position).ToList();
            Dictionary<string, Item> byName = new(System.StringComparer.Ordinal);
            foreach (Item item in sysctls)
            {
                if (byName.TryGetValue(item.Sysctl!.Name, out Item? other))
                {
                    Report(context, item, "the sysctl name '" + item.Sysctl.Name + "' is already declared by '" + Describe(other) + "'");
                    items.Remove(item);
                }
                else
                {
                    byName.Add(item.Sysctl.Name, item);
                }
            }

            // A leaf cannot also be a node: 'net.inet.ip' and 'net.inet.ip.ttl' cannot both be variables.
            foreach (Item item in byName.Values.OrderBy(i => i.Sysctl!.Name, System.StringComparer.Ordinal).ToList())
            {
                string prefix = item.Sysctl!.Name + ".";
                Item? child = byName.Values.Where(i => i.Sysctl!.Name.StartsWith(prefix, System.StringComparison.Ordinal))
                    .OrderBy(i => i.Sysctl!.Name, System.StringComparer.Ordinal).FirstOrDefault();
                if (child is not null)
                {
                    Report(context, item, "the sysctl '" + item.Sysctl.Name + "' is a variable, but '" + child.Sysctl!.Name
                        + "' (on '" + Describe(child) + "') places an OID under it");
                    items.Remove(item);
                }
            }
        }

        private static void Report(SourceProductionContext context, Item item, string problem)
            => context.ReportDiagnostic(Diagnostic.Create(Diagnostics.SysctlBadName, item.Location?.ToLocation(), item.MemberName, problem));

        private static string Describe(Item item) => item.Type!.DisplayName + "." + item.MemberName;

        /// <summary>VIM008: two fields of one type with the same symbol name would get the same accessors.</summary>
        private static void RemoveConflicts(SourceProductionContext context, List<Item> items)
        {
            Dictionary<(string Type, string Symbol), Item> seen = new();
            foreach (Item item in items.Where(i => i.IsField || i.IsGlobalSysctl).OrderBy(i => i.File.FilePath, System.StringComparer.Ordinal)
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
