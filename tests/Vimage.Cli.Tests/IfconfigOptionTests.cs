namespace Vimage.Cli.Tests;

/// <summary>ifconfig(8) behaviour FreeBSD's tests rely on: an address brings the interface up; one family shown.</summary>
public sealed class IfconfigOptionTests
{
    [Fact]
    public void Assigning_an_address_brings_the_interface_up()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24");
        cli.Ok($"ifconfig {e}b inet 192.0.2.2/24");
        Assert.Contains("<UP,", cli.Ok($"ifconfig {e}a"));
        CliResult r = cli.Run("ping -o -c 5 -i 0.2 -t 5 192.0.2.2");
        Assert.True(r.Exit == 0, r.ToString());
    }

    [Fact]
    public void Explicit_down_on_the_same_line_is_kept()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 down");
        Assert.DoesNotContain("<UP,", cli.Ok($"ifconfig {e}a"));
    }

    [Fact]
    public void One_address_family_is_shown()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24");
        string ether = cli.Ok($"ifconfig {e}a ether");
        Assert.Contains("\tether ", ether);
        Assert.DoesNotContain("\tinet ", ether);
        string inet = cli.Ok($"ifconfig {e}a inet");
        Assert.Contains("\tinet 192.0.2.1 netmask 0xffffff00", inet);
        Assert.DoesNotContain("\tether ", inet);
    }
}
