# FreeBSD tests/sys/netinet/arp.sh pending_delete_if and the epair/vnet teardown PRs (D20868, D27378):
# pings are in flight while the host destroys the epair under them and the jail goes away. Nothing may crash.
vnet_init
epair=$(vnet_mkepair)
vnet_mkjail pinger ${epair}b
ifconfig ${epair}a inet 198.51.100.1/24 up
jexec pinger ifconfig ${epair}b inet 198.51.100.2/24 up
jexec pinger ping -c 200 -i 0.01 -W 50 198.51.100.1 &
jexec pinger ping -c 200 -i 0.01 -W 50 198.51.100.99 &
# Both pings are in flight: replies come back from .1, and .99's echo waits in an incomplete ARP entry.
wait_for -o "match:echo reply: [1-9]" jexec pinger netstat -sp icmp
wait_for -o "match:198\.51\.100\.99\) at \(incomplete\)" jexec pinger arp -an
ifconfig ${epair}a destroy
jail -r pinger
wait
atf_check -s exit:1 -e match:"does not exist" ifconfig ${epair}a
vnet_cleanup
