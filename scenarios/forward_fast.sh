# FreeBSD tests/sys/netinet/forward.sh fwd_ip_icmp_iface_fast_success, as a chain of jails:
# the router forwards one echo request and its reply, both on the fast path.
set -e
vnet_init
left=$(vnet_mkepair)
right=$(vnet_mkepair)
vnet_mkjail client ${left}a
vnet_mkjail router ${left}b ${right}a
vnet_mkjail server ${right}b
jexec client ifconfig ${left}a inet 192.0.2.1/24 up
jexec router ifconfig ${left}b inet 192.0.2.2/24 up
jexec router ifconfig ${right}a inet 198.51.100.1/24 up
jexec server ifconfig ${right}b inet 198.51.100.2/24 up
jexec client route add default 192.0.2.2
jexec server route add default 198.51.100.1
jexec router sysctl net.inet.ip.forwarding=1
jexec router sysctl net.inet.ip.redirect=0
atf_check -s exit:0 -o match:"1 packets received" jexec client ping -c 1 -W 2000 198.51.100.2
atf_check -o match:"2 packets forwarded \(2 packets fast forwarded\)" jexec router netstat -sp ip
atf_check -o match:"0 packets not forwardable" jexec router netstat -sp ip
atf_check -o match:"net.inet.ip.forwarding: 0" sysctl net.inet.ip.forwarding
vnet_cleanup
