namespace Vimage.Cli.Shell;

/// <summary>
/// <c>vimage run SCRIPT [ARGS]</c>: the script runs with /bin/sh in a <see cref="ShellSession"/> (the ATF library
/// sourced first), so pipes, loops, functions and background jobs are sh(1)'s own. Exit: the script's status;
/// a skip (atf_skip) is 77. <c>vimage shell</c>: an interactive sh in the same environment.
/// </summary>
public static class ShellRunner
{
    public const int ExitSkipped = 77;

    public static int Run(string script, IReadOnlyList<string> arguments, TextWriter output, TextWriter error)
    {
        if (!File.Exists(script))
        {
            error.WriteLine($"vimage run: {script}: No such file or directory");
            return 66; // EX_NOINPUT
        }

        string name = Path.GetFileName(script);
        using var session = new ShellSession();
        string staged = session.Stage(script);
        var start = session.Shell(["-c", ". \"$VIMAGE_ATF_LIB\"; vimage_script=$1; shift; . \"$vimage_script\"", staged, staged, .. arguments]);
        start.Environment["ATF_SRCDIR"] = Path.GetDirectoryName(staged);
        start.WorkingDirectory = Directory.CreateDirectory(Path.Combine(session.Root, "work")).FullName;
        int status = ShellSession.Execute(start, output, error);
        output.WriteLine(status switch
        {
            0 => $"{name}: PASS",
            ExitSkipped => $"{name}: SKIPPED",
            _ => $"{name}: FAIL (exit {status})",
        });
        return status;
    }

    public static int Interactive()
    {
        using var session = new ShellSession();
        var start = session.Shell(["-i"], redirect: false);
        start.Environment["ENV"] = session.Library; // sh(1) reads $ENV when interactive
        start.Environment["PS1"] = "vimage$ ";
        using var process = System.Diagnostics.Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
