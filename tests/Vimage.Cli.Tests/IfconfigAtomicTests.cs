using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Tests;

/// <summary>ifconfig lines are checked whole before anything changes; nothing after "vnet J" applies in the caller's vnet.</summary>
public sealed class IfconfigAtomicTests
{
    private static readonly InAddr A = InAddr.Parse("192.0.2.1");

    [Fact]
    public void Refused_address_keeps_the_old_one_and_its_route()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok($"ifconfig {e}b inet 198.51.100.1/24");

        CliResult multicast = cli.Run($"ifconfig {e}a inet 224.0.0.1/24");
        Assert.Equal(1, multicast.Exit);
        Assert.Contains("224.0.0.1: not a usable interface address", multicast.Err);

        CliResult taken = cli.Run($"ifconfig {e}a inet 198.51.100.1/24");
        Assert.Equal(1, taken.Exit);
        Assert.Contains("ioctl (SIOCAIFADDR): File exists", taken.Err);

        Assert.Contains("\tinet 192.0.2.1 netmask 0xffffff00 ", cli.Ok($"ifconfig {e}a"));
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.Contains(Routes.All, r => r.Destination == InAddr.Parse("192.0.2.0") && r.PrefixLength == 24 && r.Interface.Name == $"{e}a");
        }
    }

    [Fact]
    public void Bad_parameter_late_in_the_line_changes_nothing()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        CliResult r = cli.Run($"ifconfig {e}a up description changed inet 192.0.2.1/24 mtu 10");
        Assert.Equal(1, r.Exit);
        Assert.Contains("mtu 10 out of range", r.Err);
        string status = cli.Ok($"ifconfig {e}a");
        Assert.StartsWith($"{e}a: flags=8802<", status);
        Assert.DoesNotContain("description", status);
        Assert.DoesNotContain("inet ", status);

        CliResult rename = cli.Run($"ifconfig {e}a up name {e}b");
        Assert.Equal(1, rename.Exit);
        Assert.Equal("ifconfig: ioctl SIOCSIFNAME (set name): File exists\n", rename.Err);
        Assert.StartsWith($"{e}a: flags=8802<", cli.Ok($"ifconfig {e}a"));
    }

#if VIMAGE
    [Fact]
    public void Parameters_after_vnet_are_refused_before_the_move()
    {
        using var cli = new CliFixture();
        cli.Ok("jail -c name=leak vnet");
        Vnet jail = cli.Jails.Find("leak").Vnet;
        string e = cli.NewEpair();

        CliResult r = cli.Run($"ifconfig {e}a vnet leak inet 192.0.2.1/24 up");
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("ifconfig: vnet leak must be the last parameter", r.Err);
        CliResult named = cli.Run($"ifconfig {e}a vnet leak name moved0");
        Assert.Equal(1, named.Exit);
        CliResult addressFirst = cli.Run($"ifconfig {e}a inet 192.0.2.1/24 vnet leak");
        Assert.Equal(1, addressFirst.Exit);

        // Nothing moved, nothing configured, in either vnet.
        Assert.NotNull(Ifnets.Of(Vnet.Vnet0).Find($"{e}a"));
        Assert.Null(Ifnets.Of(jail).Find($"{e}a"));
        Assert.Null(Ifnets.Of(jail).Find("moved0"));
        Assert.DoesNotContain(InAddrs.Of(Vnet.Vnet0), ia => ia.Address == A);
        Assert.DoesNotContain(Routes.Of(Vnet.Vnet0), rt => rt.Destination == InAddr.Parse("192.0.2.0"));

        // The supported way: move it, then configure it inside the jail; vnet0's tables never see it.
        cli.Ok($"ifconfig {e}a vnet leak");
        cli.Ok($"ifconfig -j leak {e}a inet 192.0.2.1/24 up");
        Assert.Contains(InAddrs.Of(jail), ia => ia.Address == A && ia.Interface.Name == $"{e}a");
        Assert.DoesNotContain(InAddrs.Of(Vnet.Vnet0), ia => ia.Address == A);
        Assert.DoesNotContain(Routes.Of(Vnet.Vnet0), rt => rt.Interface.Vnet == jail);
    }

    [Fact]
    public void Parameters_before_vnet_apply_here_then_the_interface_moves()
    {
        using var cli = new CliFixture();
        cli.Ok("jail -c name=mover vnet");
        Vnet jail = cli.Jails.Find("mover").Vnet;
        string e = cli.NewEpair();
        Assert.Equal("uplink7\n", cli.Ok($"ifconfig {e}a name uplink7 vnet mover"));
        Assert.NotNull(Ifnets.Of(jail).Find("uplink7"));
        Assert.Null(Ifnets.Of(Vnet.Vnet0).Find("uplink7"));
    }
#endif
}
