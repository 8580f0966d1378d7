namespace Vimage.Cli.Scenarios;

/// <summary>vimage run FILE: runs a scenario script (see <see cref="ScriptInterpreter"/>) in this process.</summary>
public static class ScenarioRunner
{
    public static int Run(string path, TextWriter output, TextWriter error)
    {
        string script;
        try
        {
            script = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"vimage run: {path}: {e.Message}");
            return 66; // EX_NOINPUT
        }

        return new ScriptInterpreter(output, error).Run(script, Path.GetFileName(path));
    }
}
