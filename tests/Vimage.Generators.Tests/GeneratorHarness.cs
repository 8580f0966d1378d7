using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Vimage.Generators;

namespace Vimage.Generators.Tests;

/// <summary>Runs the linker-set generator (and optionally the VIM004 analyzer) over source strings.</summary>
internal static class GeneratorHarness
{
    public const string AssemblyName = "Test.Assembly";

    // The trusted platform assemblies include this test's dependencies, Vimage.Core among them.
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray());

    public static GeneratorRun Run(string source, bool vimage, bool allowUnsafe = true)
    {
        CSharpParseOptions parseOptions = new(LanguageVersion.Latest,
            preprocessorSymbols: vimage ? [LinkerSetGenerator.VimageSymbol] : []);
        SyntaxTree tree = CSharpSyntaxTree.ParseText(source, parseOptions, path: "/src/Test.cs");
        CSharpCompilation compilation = CSharpCompilation.Create(AssemblyName, [tree], s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: allowUnsafe,
                nullableContextOptions: NullableContextOptions.Enable));

        GeneratorDriver driver = CSharpGeneratorDriver.Create([new LinkerSetGenerator().AsSourceGenerator()],
            parseOptions: parseOptions);
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output,
            out ImmutableArray<Diagnostic> generatorDiagnostics);
        return new GeneratorRun(output, generatorDiagnostics, driver.GetRunResult());
    }
}

internal sealed record GeneratorRun(Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorDriverRunResult Result)
{
    public IEnumerable<string> GeneratorIds => GeneratorDiagnostics.Select(d => d.Id);

    /// <summary>Compiler errors and warnings (warnings are errors in this repo) of source plus generated code.</summary>
    public ImmutableArray<Diagnostic> CompilerProblems => Output.GetDiagnostics()
        .Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();

    public string Generated(string hintName)
        => Result.Results.Single().GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

    public string AllGenerated => string.Join("\n", Result.Results.Single().GeneratedSources.Select(s => s.SourceText.ToString()));

    public INamedTypeSymbol Type(string metadataName) => Output.GetTypeByMetadataName(metadataName)
        ?? throw new InvalidOperationException(metadataName + " not found");

    public async Task<ImmutableArray<Diagnostic>> AnalyzeAsync()
        => await Output.WithAnalyzers([new DirectAccessAnalyzer()]).GetAnalyzerDiagnosticsAsync();

    /// <summary>Fails with every problem listed, so a broken emitter shows its generated code.</summary>
    public void AssertCompiles()
    {
        ImmutableArray<Diagnostic> problems = CompilerProblems;
        Assert.True(GeneratorDiagnostics.IsEmpty, string.Join("\n", GeneratorDiagnostics));
        Assert.True(problems.IsEmpty, string.Join("\n", problems) + "\n----\n" + AllGenerated);
    }
}
