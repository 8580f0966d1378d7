using Vimage.Net.Tap;

namespace Vimage.Cli.Tests;

/// <summary>TAP devices live in the host's namespace: only vnet0 makes them unless the operator allows jails, and never more than net.link.tap.max.</summary>
public sealed class TapPolicyTests
{
    [Fact]
    public void Tap_count_is_bounded_by_net_link_tap_max()
    {
        using var cli = new CliFixture();
        int before = TapLimits.Count;
        cli.Ok("sysctl net.link.tap.max=" + before);
        try
        {
            CliResult r = cli.Run("ifconfig tap create");
            Assert.Equal(1, r.Exit);
            Assert.Contains("ifconfig: SIOCIFCREATE2 (tap): No space left on device", r.Err);
            Assert.Equal(before, TapLimits.Count);
        }
        finally
        {
            cli.Ok("sysctl net.link.tap.max=" + TapLimits.DefaultMax);
        }
    }

#if VIMAGE
    [Fact]
    public void A_jail_cannot_create_taps_unless_the_host_allows_it()
    {
        using var cli = new CliFixture();
        cli.Ok("jail -c name=tapjail vnet");
        int before = TapLimits.Count;

        CliResult refused = cli.Run("jexec tapjail ifconfig tap create");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("ifconfig: SIOCIFCREATE2 (tap): Operation not permitted", refused.Err);
        Assert.Equal(before, TapLimits.Count);

        // The policy is the host's: a jail can read it but not change it.
        CliResult escalate = cli.Run("jexec tapjail sysctl net.link.tap.jail_create=1");
        Assert.Equal(1, escalate.Exit);
        Assert.Equal("0\n", cli.Ok("jexec tapjail sysctl -n net.link.tap.jail_create"));

        // Allowed by the host, the jail gets past the policy and meets the count limit (set so nothing is created).
        cli.Ok("sysctl net.link.tap.jail_create=1");
        cli.Ok("sysctl net.link.tap.max=" + before);
        try
        {
            CliResult limited = cli.Run("jexec tapjail ifconfig tap create");
            Assert.Equal(1, limited.Exit);
            Assert.Contains("No space left on device", limited.Err);
            Assert.Equal(before, TapLimits.Count);
        }
        finally
        {
            cli.Ok("sysctl net.link.tap.jail_create=0");
            cli.Ok("sysctl net.link.tap.max=" + TapLimits.DefaultMax);
        }
    }
#endif
}
