namespace Vimage.Cli.Tests;

/// <summary>sysctl(8) against sbin/sysctl/sysctl.c: show_var's formats and parse()'s messages and exit status.</summary>
public sealed class SysctlFreeBsdTests
{
    [Fact]
    public void Type_description_and_both()
    {
        using var cli = new CliFixture();
        Assert.Equal("net.inet.ip.ttl: integer\n", cli.Ok("sysctl -t net.inet.ip.ttl"));
        Assert.Equal("integer\n", cli.Ok("sysctl -tn net.inet.ip.ttl"));
        Assert.Equal("net.inet.ip.ttl: Maximum TTL on IP packets\n", cli.Ok("sysctl -d net.inet.ip.ttl"));
        Assert.Equal("net.inet.ip.ttl: integer: Maximum TTL on IP packets\n", cli.Ok("sysctl -td net.inet.ip.ttl"));
        Assert.Equal("net.inet.ip.ttl=integer\n", cli.Ok("sysctl -te net.inet.ip.ttl"));
        Assert.Equal("net.inet.ip.stats: opaque\n", cli.Ok("sysctl -t net.inet.ip.stats"));
        Assert.Equal("net.inet.ip.ttl: Maximum TTL on IP packets\n", cli.Ok("sysctl -d net.inet.ip.ttl=30")); // -d shows, never sets
        Assert.Equal("64\n", cli.Ok("sysctl -n net.inet.ip.ttl"));
    }

    [Fact]
    public void Names_only_writable_only_and_hex()
    {
        using var cli = new CliFixture();
        Assert.Equal("net.inet.ip.ttl\n", cli.Ok("sysctl -N net.inet.ip.ttl"));
        string writable = cli.Ok("sysctl -W net.inet.ip");
        Assert.Contains("net.inet.ip.ttl: 64\n", writable);
        Assert.DoesNotContain("net.inet.ip.stats", writable);
        Assert.DoesNotContain("net.inet.ip.curfrags", writable); // read only
        Assert.Contains("net.inet.ip.curfrags", cli.Ok("sysctl -N net.inet.ip"));
        Assert.Equal("net.inet.ip.ttl: 0x00000040\n", cli.Ok("sysctl -x net.inet.ip.ttl"));
        Assert.Equal("net.inet.ip.forwarding: 0000000000\n", cli.Ok("sysctl -x net.inet.ip.forwarding")); // %#x of 0 has no 0x
        CliResult both = cli.Run("sysctl -Nn net.inet.ip.ttl");
        Assert.Equal(1, both.Exit); // usage(): -N and -n together
        Assert.StartsWith("usage: sysctl [-bdehiNnoqTtWx]", both.Err);
    }

    [Fact]
    public void Opaque_needs_o_or_x()
    {
        using var cli = new CliFixture();
        Assert.Equal("", cli.Ok("sysctl net.inet.ip.stats")); // not fetched without -o/-x: nothing printed, exit 0
        string o = cli.Ok("sysctl -o net.inet.ip.stats");
        Assert.Matches(@"^net\.inet\.ip\.stats: Format:S,\w+ Length:\d+ Dump:0x[0-9a-f]{32}\.\.\.\n$", o);
        string x = cli.Ok("sysctl -x net.inet.ip.stats");
        Assert.Matches(@"^net\.inet\.ip\.stats: Format:S,\w+ Length:(\d+) Dump:0x[0-9a-f]+\n$", x);
        int length = int.Parse(System.Text.RegularExpressions.Regex.Match(x, @"Length:(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(length * 2, x.Trim().Split("Dump:0x")[1].Length);
        CliResult set = cli.Run("sysctl net.inet.ip.stats=0");
        Assert.Equal(1, set.Exit);
        Assert.Equal("sysctl: oid 'net.inet.ip.stats' is type 5, cannot set that\n", set.Err);
    }

    [Fact]
    public void Messages_and_exit_status_count_the_failures()
    {
        using var cli = new CliFixture();
        CliResult bad = cli.Run("sysctl net.inet.ip.ttl=abc");
        Assert.Equal(1, bad.Exit);
        Assert.Equal("sysctl: invalid integer 'abc'\n", bad.Err);
        Assert.Equal("", bad.Out);
        Assert.Equal("sysctl: empty numeric value\n", cli.Run("sysctl net.inet.ip.ttl=").Err);
        Assert.Equal("sysctl: oid 'net.inet.ip' isn't a leaf node\n", cli.Run("sysctl net.inet.ip=1").Err);
        Assert.Equal("sysctl: oid 'net.inet.ip.curfrags' is read only\n", cli.Run("sysctl net.inet.ip.curfrags=1").Err);

        CliResult range = cli.Run("sysctl net.inet.ip.ttl=300");
        Assert.Equal(1, range.Exit);
        Assert.Equal("net.inet.ip.ttl: 64\n", range.Out); // the old value is shown before the write fails
        Assert.Equal("sysctl: net.inet.ip.ttl=300: Invalid argument\n", range.Err);

        CliResult two = cli.Run("sysctl no.such.one net.inet.ip.ttl no.such.two");
        Assert.Equal(2, two.Exit); // warncount
        Assert.Equal("net.inet.ip.ttl: 64\n", two.Out);
        Assert.Equal("sysctl: unknown oid 'no.such.one'\nsysctl: unknown oid 'no.such.two'\n", two.Err);

        CliResult tw = cli.Run("sysctl -W net.inet.ip.ttl=3");
        Assert.Equal(1, tw.Exit);
        Assert.StartsWith("sysctl: Can't set variables when using -T or -W\nusage: sysctl", tw.Err);
        Assert.Equal(1, cli.Run("sysctl").Exit);
        Assert.Equal("sysctl: unknown oid ''\n", cli.Run("sysctl =1").Err); // an empty name is no oid, not the whole tree
    }

    [Fact]
    public void Colon_delimiter_hex_value_quotes_and_file()
    {
        using var cli = new CliFixture();
        try
        {
            Assert.Equal("net.inet.ip.ttl: 64 -> 32\n", cli.Ok("sysctl net.inet.ip.ttl:0x20"));
            Assert.Equal("net.inet.ip.ttl: 32 -> 33\n", cli.Ok("sysctl net.inet.ip.ttl=\"33\"".Replace("\"", "'", StringComparison.Ordinal)));
            Assert.Equal("33 -> 34\n", cli.Ok("sysctl -n net.inet.ip.ttl=34"));
            Assert.Equal("net.inet.ip.ttl=34 -> 35\n", cli.Ok("sysctl -e net.inet.ip.ttl=35"));

            string file = Path.Combine(Path.GetTempPath(), $"sysctl-{Environment.ProcessId}-{Guid.NewGuid():N}.conf");
            File.WriteAllText(file, "# comment\nnet.inet.ip.ttl=40  # trailing\n\nno.such.oid=1\nnet.inet.ip.ttl=bogus\n");
            try
            {
                CliResult r = cli.Run($"sysctl -f {file}");
                Assert.Equal(2, r.Exit);
                Assert.Equal("net.inet.ip.ttl: 35 -> 40\n", r.Out);
                Assert.Equal("sysctl: unknown oid 'no.such.oid' at line 4\nsysctl: invalid integer 'bogus' at line 5\n", r.Err);
            }
            finally
            {
                File.Delete(file);
            }

            Assert.Equal(66, cli.Run("sysctl -f /nonexistent/sysctl.conf").Exit);
        }
        finally
        {
            cli.Ok("sysctl net.inet.ip.ttl=64");
        }
    }
}
