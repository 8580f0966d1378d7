# FreeBSD tests/sys/netinet/forward.sh fwd_ip_blackhole: a blackhole route in the router makes packets
# "not forwardable"; the client hears nothing back (ping exits 2).
set -e
vnet_init
left=$(vnet_mkepair)
right=$(vnet_mkepair)
vnet_mkjail client ${left}a
vnet_mkjail router ${left}b ${right}a
jexec client ifconfig ${left}a inet 192.0.2.1/24 up
jexec router ifconfig ${left}b inet 192.0.2.2/24 up
jexec router ifconfig ${right}a inet 198.51.100.1/24 up
jexec client route add default 192.0.2.2
jexec router sysctl net.inet.ip.forwarding=1
atf_check -o match:"0 packets not forwardable" jexec router netstat -sp ip
jexec router route add 198.51.100.2 -blackhole -fib 0
atf_check -s exit:2 -o match:"0 packets received" jexec client ping -c 1 -W 500 198.51.100.2
atf_check -o match:"1 packet not forwardable" jexec router netstat -sp ip
atf_check -s exit:2 -o ignore jexec client ping -c 1 -W 500 198.51.100.2
atf_check -o match:"2 packets not forwardable" jexec router netstat -sp ip
vnet_cleanup
