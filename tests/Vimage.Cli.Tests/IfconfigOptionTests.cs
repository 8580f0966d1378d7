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

/// <summary>ifconfig's capability options: options= lists if_capenable; txcsum/rxcsum/tso/lro turn offloads on and off.</summary>
public sealed class IfconfigCapabilityTests
{
    [Fact]
    public void Epair_and_lo0_list_their_offloads_and_the_options_change_them()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        Assert.Contains("\n\toptions=50b<RXCSUM,TXCSUM,VLAN_MTU,TSO4,LRO>\n", cli.Ok($"ifconfig {e}a"));
        Assert.Contains("\n\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>\n", cli.Ok("ifconfig lo0"));

        // TSO needs TXCSUM: -txcsum takes TSO4 with it, tso brings both back.
        Assert.Equal("", cli.Ok($"ifconfig {e}a -txcsum"));
        Assert.Contains("\n\toptions=409<RXCSUM,VLAN_MTU,LRO>\n", cli.Ok($"ifconfig {e}a"));
        cli.Ok($"ifconfig {e}a tso");
        Assert.Contains("\n\toptions=50b<RXCSUM,TXCSUM,VLAN_MTU,TSO4,LRO>\n", cli.Ok($"ifconfig {e}a"));

        cli.Ok($"ifconfig {e}b -lro -rxcsum");
        Assert.Contains("\n\toptions=10a<TXCSUM,VLAN_MTU,TSO4>\n", cli.Ok($"ifconfig {e}b"));
        cli.Ok($"ifconfig {e}b -tso -txcsum -vlanmtu");
        Assert.DoesNotContain("options=", cli.Ok($"ifconfig {e}b")); // nothing enabled: no options line, as FreeBSD

        // A capability the driver lacks is ignored (setifcap masks it), as is any on an interface without offloads.
        cli.Ok($"ifconfig {e}a tso6");
        Assert.Contains("\n\toptions=50b<RXCSUM,TXCSUM,VLAN_MTU,TSO4,LRO>\n", cli.Ok($"ifconfig {e}a"));
    }

    [Fact]
    public void Capability_options_combine_with_an_address_on_one_line()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 -txcsum -rxcsum -lro");
        Assert.Contains("\n\toptions=8<VLAN_MTU>\n", cli.Ok($"ifconfig {e}a"));
        cli.Ok($"ifconfig {e}b inet 192.0.2.2/24");
        CliResult r = cli.Run("ping -o -c 5 -i 0.2 -t 5 192.0.2.2");
        Assert.True(r.Exit == 0, r.ToString());
    }
}
