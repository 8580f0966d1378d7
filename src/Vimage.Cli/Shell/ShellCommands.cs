using System.CommandLine;

namespace Vimage.Cli.Shell;

/// <summary>The command-line entries: <c>vimage run</c>, <c>vimage shell</c>, <c>vimage atf run</c>.</summary>
internal static class ShellCommands
{
    public static void Add(RootCommand root)
    {
        var run = new Command("run", "Run a sh script against a private set of stacks (FreeBSD tools as shims on PATH, ATF and vnet.subr helpers)")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var script = new Argument<string>("script") { Description = "Script file" };
        var scriptArgs = new Argument<string[]>("args") { Arity = ArgumentArity.ZeroOrMore };
        run.Arguments.Add(script);
        run.Arguments.Add(scriptArgs);
        run.SetAction(r => ShellRunner.Run(r.GetValue(script)!, r.GetValue(scriptArgs) ?? [], Console.Out, Console.Error));
        root.Subcommands.Add(run);

        var shell = new Command("shell", "An interactive sh with the FreeBSD tools as shims on PATH, bound to a private set of stacks");
        shell.SetAction(_ => ShellRunner.Interactive());
        root.Subcommands.Add(shell);

        var atf = new Command("atf", "ATF test programs");
        var atfRun = new Command("run", "Run an ATF shell test program's cases as kyua does: vimage atf run FILE [-v name=value]... [CASE...]")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var file = new Argument<string>("file") { Description = "ATF shell test program" };
        var rest = new Argument<string[]>("cases") { Arity = ArgumentArity.ZeroOrMore };
        atfRun.Arguments.Add(file);
        atfRun.Arguments.Add(rest);
        atfRun.SetAction(r => new AtfRunner(Console.Out, Console.Error).Run(r.GetValue(file)!,
            [.. r.GetValue(rest) ?? [], .. r.UnmatchedTokens]));
        atf.Subcommands.Add(atfRun);
        root.Subcommands.Add(atf);
    }
}
