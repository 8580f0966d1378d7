using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Vimage.Generators
{
    /// <summary>
    /// VIM004: a [Vnet]/[PerCpu] field is only the reference copy (what the linker copies into each vnet or CPU);
    /// reading or writing it directly bypasses virtualization. Generated code, the field's own declaration and
    /// <c>nameof</c> are exempt.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    public sealed class DirectAccessAnalyzer : DiagnosticAnalyzer
    {
        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
            ImmutableArray.Create(Diagnostics.DirectAccess);

        public override void Initialize(AnalysisContext context)
        {
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            context.EnableConcurrentExecution();
            context.RegisterCompilationStartAction(start =>
            {
                INamedTypeSymbol? vnet = start.Compilation.GetTypeByMetadataName(ModelBuilder.VnetAttribute);
                INamedTypeSymbol? perCpu = start.Compilation.GetTypeByMetadataName(ModelBuilder.PerCpuAttribute);
                if (vnet is null && perCpu is null)
                {
                    return;
                }

                start.RegisterOperationAction(op => Analyze(op, vnet, perCpu), OperationKind.FieldReference);
            });
        }

        private static void Analyze(OperationAnalysisContext context, INamedTypeSymbol? vnet, INamedTypeSymbol? perCpu)
        {
            var reference = (IFieldReferenceOperation)context.Operation;
            IFieldSymbol field = reference.Field.OriginalDefinition;
            bool isVnet = false, isPerCpu = false;
            foreach (AttributeData attribute in field.GetAttributes())
            {
                isVnet |= SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, vnet);
                isPerCpu |= SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, perCpu);
            }

            if (!(isVnet || isPerCpu) || InNameOf(reference) || InOwnDeclaration(reference, field))
            {
                return;
            }

            string symbol = ModelBuilder.SymbolName(field.Name);
            string replacement = isVnet
                ? "V_" + symbol + " (or V_" + symbol + "_In(vnet))"
                : "DPCPU_" + symbol + " (or DPCPU_ID_" + symbol + "(cpu))";
            context.ReportDiagnostic(Diagnostic.Create(Diagnostics.DirectAccess, reference.Syntax.GetLocation(), field.Name,
                replacement));
        }

        private static bool InNameOf(IOperation operation)
        {
            for (IOperation? o = operation.Parent; o is not null; o = o.Parent)
            {
                if (o is INameOfOperation)
                {
                    return true;
                }
            }

            return false;
        }

        private static bool InOwnDeclaration(IOperation operation, IFieldSymbol field)
        {
            foreach (SyntaxNode node in operation.Syntax.AncestorsAndSelf())
            {
                if (node is VariableDeclaratorSyntax declarator && node.Parent?.Parent is FieldDeclarationSyntax)
                {
                    return declarator.Identifier.ValueText == field.Name
                        && SymbolEqualityComparer.Default.Equals(
                            operation.SemanticModel?.GetDeclaredSymbol(declarator, default), field);
                }
            }

            return false;
        }
    }
}
