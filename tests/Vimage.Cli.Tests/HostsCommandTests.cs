using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>getent hosts and the hosts command over each vnet's hosts table.</summary>
public sealed class HostsCommandTests
{
    [Fact]
    public void Add_query_list_and_delete_in_the_host()
    {
        using var cli = new CliFixture();
        try
        {
            cli.Ok("hosts add 10.7.0.2 web.cli.test www.cli.test");
            Assert.Equal("10.7.0.2          web.cli.test\n", cli.Ok("getent hosts web.cli.test"));
            Assert.Equal("10.7.0.2          www.cli.test\n", cli.Ok("getent hosts WWW.cli.test"));
            Assert.Equal("10.7.0.2          web.cli.test\n", cli.Ok("getent hosts 10.7.0.2")); // by address: the first line
            Assert.Equal("127.0.0.1         localhost\n", cli.Ok("getent hosts localhost"));
            Assert.Contains("10.7.0.2\tweb.cli.test\n10.7.0.2\twww.cli.test\n", cli.Ok("hosts"));
            Assert.Contains("10.7.0.2          www.cli.test\n", cli.Ok("getent hosts"));

            CliResult missing = cli.Run("getent hosts web.cli.test nowhere.cli.test");
            Assert.Equal(2, missing.Exit); // RV_NOTFOUND, the found key still printed
            Assert.Equal("10.7.0.2          web.cli.test\n", missing.Out);
        }
        finally
        {
            cli.Ok("hosts delete web.cli.test www.cli.test");
        }

        Assert.Equal(2, cli.Run("getent hosts web.cli.test").Exit);
    }

    [Fact]
    public void Bad_input_changes_nothing()
    {
        using var cli = new CliFixture();
        string before = cli.Ok("hosts");
        CliResult r = cli.Run("hosts add 10.7.0 a.cli.test");
        Assert.Equal(1, r.Exit);
        Assert.Equal("hosts: 10.7.0: bad address\n", r.Err);
        r = cli.Run("hosts add 10.7.0.3 ok.cli.test bad..name");
        Assert.Equal(1, r.Exit);
        Assert.Equal("hosts: bad..name: invalid host name\n", r.Err);
        r = cli.Run("hosts delete localhost nowhere.cli.test");
        Assert.Equal("hosts: nowhere.cli.test: not in the table\n", r.Err);
        Assert.Equal(64, cli.Run("hosts add 10.7.0.3").Exit);
        Assert.Equal(before, cli.Ok("hosts")); // ok.cli.test not added, localhost not deleted

        r = cli.Run("getent passwd root");
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("Unknown database: passwd", r.Err);
        Assert.Equal(1, cli.Run("getent").Exit);
    }

    [SkippableFact]
    public void Each_jail_has_its_own_table()
    {
        Skip.IfNot(Vnet.IsVimage, "jails need the VIMAGE build");
        using var cli = new CliFixture();
        cli.Ok("jail -c name=hj1 vnet");
        cli.Ok("jail -c name=hj2 vnet");
        cli.Ok("jexec hj1 hosts add 10.7.1.1 db.cli.test");
        cli.Ok("jexec hj2 hosts add 10.7.1.2 db.cli.test");
        Assert.Equal("10.7.1.1          db.cli.test\n", cli.Ok("jexec hj1 getent hosts db.cli.test"));
        Assert.Equal("10.7.1.2          db.cli.test\n", cli.Ok("jexec hj2 getent hosts db.cli.test"));
        Assert.Equal(2, cli.Run("getent hosts db.cli.test").Exit);
        Assert.Equal("127.0.0.1\tlocalhost\n10.7.1.1\tdb.cli.test\n", cli.Ok("jexec hj1 hosts"));
    }
}
