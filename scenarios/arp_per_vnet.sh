# FreeBSD tests/sys/netinet/arp.sh arp_lookup_host: two jails on one epair; each has its own ARP table.
set -e
vnet_init
epair=$(vnet_mkepair)
vnet_mkjail alpha ${epair}a
vnet_mkjail beta ${epair}b
jexec alpha ifconfig ${epair}a inet 198.51.100.1/24 up
jexec beta ifconfig ${epair}b inet 198.51.100.2/24 up
atf_check -s exit:1 -o match:"-- no entry" jexec alpha arp -n 198.51.100.2
atf_check -s exit:0 -o ignore jexec alpha ping -c 1 -W 2000 198.51.100.2
atf_check -s exit:0 -o match:"198.51.100.2.* at .* on ${epair}a" jexec alpha arp -n 198.51.100.2
atf_check -s exit:1 -o match:"-- no entry" arp -n 198.51.100.2
atf_check -s exit:0 -o ignore jexec alpha arp -s 198.51.100.3 90:10:00:01:02:03
atf_check -o match:"\? \(198.51.100.3\) at 90:10:00:01:02:03 on ${epair}a permanent" jexec alpha arp -an
atf_check -o match:"198.51.100.3.*deleted" jexec alpha arp -d 198.51.100.3
atf_check -s exit:1 -o match:"-- no entry" jexec alpha arp -n 198.51.100.3
vnet_cleanup
