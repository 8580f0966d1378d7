using System.Text.RegularExpressions;
using Vimage.Cli.Shell;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>
/// vimage run / vimage atf run: scripts in a real /bin/sh with the FreeBSD tools as shims forwarding to a private
/// host. The scenarios and the ATF programs under scenarios/ run here in both modes; the ones needing several vnets
/// report a skip when built with Vimage=false.
/// </summary>
[Collection("Shell")]
public class ShellTests
{
    public static TheoryData<string> Scenarios() => Files("*.sh", SearchOption.TopDirectoryOnly);

    public static TheoryData<string> AtfPrograms() => Files("*.sh", SearchOption.AllDirectories, "atf");

    [SkippableTheory]
    [MemberData(nameof(Scenarios))]
    public void ScenarioRunsInTheShell(string scenario)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = ShellRunner.Run(Path.Combine(ScenarioDirectory(), scenario), [], output, error);
        if (!Vnet.IsVimage)
        {
            Assert.Equal(ShellRunner.ExitSkipped, status);
            Assert.Contains("skipped: This test requires VIMAGE", error.ToString());
            Skip.If(true, "vnet_init: This test requires VIMAGE");
        }

        Assert.True(status == 0, $"{scenario} failed ({status}):\n{error}\n{output}");
        Assert.Contains($"{scenario}: PASS", output.ToString());
    }

    [SkippableTheory]
    [MemberData(nameof(AtfPrograms))]
    public void AtfProgramPasses(string program)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = new AtfRunner(output, error).Run(Path.Combine(ScenarioDirectory(), "atf", program), []);
        Assert.True(status == 0, $"{program} failed ({status}):\n{output}\n{error}");
        string text = output.ToString();
        Assert.DoesNotContain("->  failed", text);
        Assert.DoesNotContain("->  broken", text);
        if (!Vnet.IsVimage)
        {
            Assert.DoesNotContain("->  passed", text); // every vnet case skipped, none pretended to pass
            Skip.If(true, "vnet_init: This test requires VIMAGE");
        }

        Assert.Matches(@"->  passed", text);
    }

    [Fact]
    public void AtfRunnerReportsEachResultAsKyuaDoes()
    {
        string marker = Path.Combine(Path.GetTempPath(), "vimage-atf-cleanup-" + Guid.NewGuid().ToString("N"));
        Environment.SetEnvironmentVariable("VIMAGE_TEST_OUT", marker);
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int status = new AtfRunner(output, error).Run(SemanticsProgram(), []);
            string text = output.ToString();
            Assert.Equal(1, status); // some cases fail, on purpose
            foreach (Match line in Regex.Matches(text, @"^semantics:(\w+)  ->  (\w+)", RegexOptions.Multiline))
            {
                string name = line.Groups[1].Value;
                string expected = name.Split('_')[0] == "expected" ? "expected_failure" : name.Split('_')[0];
                Assert.True(expected == line.Groups[2].Value, $"{name}: {line.Groups[2].Value}\n{text}\n{error}");
            }

            Assert.Equal(10, Regex.Matches(text, "^semantics:", RegexOptions.Multiline).Count);
            Assert.Contains("skipped: Required program 'no-such-program-vimage' not found in PATH", text);
            Assert.Contains("expected_failure: known bug: atf-check failed", text);
            Assert.Contains("Fail: stdout does not satisfy 'empty'; stdout was:", error.ToString());
            Assert.Equal("64", File.ReadAllText(marker).Trim()); // the cleanup ran, in the body's directory, with shims
            Assert.Contains("(2 passed, 2 skipped, 1 expected failures, 1 broken, 4 failed)", text);
        }
        finally
        {
            Environment.SetEnvironmentVariable("VIMAGE_TEST_OUT", null);
            File.Delete(marker);
        }
    }

    [Fact]
    public void AtfRunnerRunsOnlyTheNamedCasesAndRefusesUnknownOnes()
    {
        var output = new StringWriter();
        Assert.Equal(0, new AtfRunner(output, new StringWriter()).Run(SemanticsProgram(), ["passed_bare_check", "skipped_by_atf_skip"]));
        Assert.Equal(2, Regex.Matches(output.ToString(), "^semantics:", RegexOptions.Multiline).Count);
        var error = new StringWriter();
        Assert.Equal(1, new AtfRunner(new StringWriter(), error).Run(SemanticsProgram(), ["nope"]));
        Assert.Contains("no test case named nope", error.ToString());
        Assert.Equal(66, new AtfRunner(new StringWriter(), new StringWriter()).Run("/nonexistent/t.sh", []));
        Assert.Equal(64, new AtfRunner(new StringWriter(), new StringWriter()).Run(SemanticsProgram(), ["-x"]));
    }

    [Fact]
    public void ScriptsGetPipesFunctionsAndJexecBoundShims()
    {
        string script = Path.Combine(Path.GetTempPath(), "vimage-sh-" + Guid.NewGuid().ToString("N") + ".sh");
        File.WriteAllText(script, """
            ttl() { sysctl -n net.inet.ip.ttl; }
            [ "$(ttl | awk '{ print $1 * 2 }')" = 128 ] || exit 3
            for name in ifconfig route arp netstat sysctl ping jail jexec jls tcpdump setfib ipfw nc sockstat; do
                command -v $name | grep -q "^$(dirname "$(command -v sysctl)")/" || exit 4
            done
            jexec nosuchjail ifconfig >/dev/null 2>&1 && exit 5
            ifconfig lo0 | grep -c 'inet 127.0.0.1'
            """);
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int status = ShellRunner.Run(script, [], output, error);
            Assert.True(status == 0, $"exit {status}\n{output}\n{error}");
            Assert.StartsWith("1\n", output.ToString().Replace("\r", ""));
        }
        finally
        {
            File.Delete(script);
        }
    }

    [SkippableFact]
    public void JexecShBindsEveryShimInsideToTheJail()
    {
        Skip.IfNot(Vnet.IsVimage, "jails need VIMAGE");
        string script = Path.Combine(Path.GetTempPath(), "vimage-sh-" + Guid.NewGuid().ToString("N") + ".sh");
        File.WriteAllText(script, """
            set -e
            vnet_init
            epair=$(vnet_mkepair)
            vnet_mkjail j ${epair}a
            jexec j sysctl net.inet.ip.ttl=7 >/dev/null
            inside=$(jexec j sh -c 'sysctl -n net.inet.ip.ttl | awk "{ print \$1 + 1 }"')
            outside=$(sysctl -n net.inet.ip.ttl)
            echo "inside=$inside outside=$outside"
            jexec j sh -c "ifconfig -l" | grep -q ${epair}a
            vnet_cleanup
            """);
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int status = ShellRunner.Run(script, [], output, error);
            Assert.True(status == 0, $"exit {status}\n{output}\n{error}");
            Assert.Contains("inside=8 outside=64", output.ToString());
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static string SemanticsProgram() => Path.Combine(AppContext.BaseDirectory, "Atf", "semantics.sh");

    private static TheoryData<string> Files(string pattern, SearchOption option, string under = "")
    {
        var data = new TheoryData<string>();
        string root = Path.Combine(ScenarioDirectory(), under);
        foreach (string file in Directory.GetFiles(root, pattern, option).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(root, file));
        }

        return data;
    }

    internal static string ScenarioDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "scenarios");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "Vimage.sln")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("scenarios/ not found above " + AppContext.BaseDirectory);
    }
}
