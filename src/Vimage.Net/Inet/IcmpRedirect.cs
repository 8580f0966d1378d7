using System.Buffers.Binary;
using Vimage.Core;

namespace Vimage.Net.Inet;

/// <summary>icmp_input's ICMP_REDIRECT case: a redirect from our current gateway installs a dynamic host route.</summary>
public static partial class Icmp
{
    /// <summary>ICMP_ADVLENMIN: the ICMP header, a minimal IP header and 8 bytes of its data.</summary>
    private const int AdvLenMin = HeaderLength + IpHeader.MinLength + 8;

    [Vnet]
    [Sysctl("net.inet.icmp.redirtimeout", SysctlFlags.RW | SysctlFlags.VNET, "Delay in seconds before expiring redirect route", Min = 0, Max = int.MaxValue)]
    internal static int s_redirtimeout = 60 * 10;

    /// <summary>
    /// The redirect in <paramref name="m"/> (data at its IP header): when net.inet.icmp.drop_redirect is 0 and we
    /// do not forward (RFC 1812: a router ignores redirects), checks it as verify_redirect_gateway does and adds
    /// the route with rib_add_redirect. False when the packet is to be freed (a bad length), true when it goes on
    /// to the raw listeners as FreeBSD's does.
    /// </summary>
    private static bool Redirect(Mbuf m, int hlen)
    {
        if (V_drop_redirect != 0 || Ip.Forwarding)
        {
            return true;
        }

        ReadOnlySpan<byte> icmp = m.Data[hlen..];
        if (icmp[1] > 3)
        {
            Stat(IcmpStat.icps_badcode);
            return true;
        }

        int innerHlen = icmp.Length > HeaderLength ? (icmp[HeaderLength] & 0xf) * 4 : 0;
        if (icmp.Length < AdvLenMin || icmp.Length < HeaderLength + innerHlen + 8 || innerHlen < IpHeader.MinLength)
        {
            Stat(IcmpStat.icps_badlen);
            return false;
        }

        var author = new IpHeader(m.Data).Source;
        var gateway = new InAddr(BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]));
        var dst = new InAddr(BinaryPrimitives.ReadUInt32BigEndian(icmp[(HeaderLength + 16)..]));
        if (m.ReceiveInterface is Ifnet ifp && VerifyRedirectGateway(author, dst, gateway, m.Fib) && InAddrs.IsOnLink(ifp, gateway))
        {
            try
            {
                // rib_add_redirect(..., m->m_pkthdr.rcvif, RTF_GATEWAY, V_redirtimeout); ifaof_ifpforaddr found the ifa.
                Routes.AddRedirect(dst, gateway, author, ifp, V_redirtimeout, m.Fib); // M_GETFIB(m)
            }
            catch (Route.RouteException)
            {
                // EEXIST: a host route to dst is there already (an earlier redirect); rib_action's error is dropped.
            }
        }

        return true;
    }

    /// <summary>
    /// verify_redirect_gateway (RFC 1122 3.2.2.2): the new gateway is on a connected network and not ours, and
    /// the redirect comes from the gateway we use for <paramref name="dst"/> today, on that gateway's interface.
    /// </summary>
    private static bool VerifyRedirectGateway(InAddr author, InAddr dst, InAddr gateway, int fib)
    {
        InIfaddr? ifa = null;
        foreach (InIfaddr a in InAddrs.All)
        {
            if (a.Address == gateway)
            {
                return false; // EHOSTUNREACH: ifa_ifwithaddr_check
            }

            if (ifa is null && a.Interface.Type != IfType.IFT_LOOP && a.PrefixLength < 32 && a.Contains(gateway))
            {
                ifa = a; // ifa_ifwithnet
            }
        }

        return ifa is not null
               && Routes.Lookup(fib, dst) is { IsGateway: true } nh
               && nh.Gateway == author
               && nh.Interface == ifa.Interface;
    }
}
