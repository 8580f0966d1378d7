# FreeBSD tests/sys/netinet/arp.sh pending_delete_if and the epair/vnet teardown PRs (D20868, D27378):
# pings are in flight while the host destroys the epair under them and the jail goes away. Nothing may crash.
set -e
vnet_init
epair=$(vnet_mkepair)
vnet_mkjail pinger ${epair}b
ifconfig ${epair}a inet 198.51.100.1/24 up
jexec pinger ifconfig ${epair}b inet 198.51.100.2/24 up
jexec pinger ping -c 200 -i 0.01 -W 50 198.51.100.1 &
jexec pinger ping -c 200 -i 0.01 -W 50 198.51.100.99 &
# Both pings are in flight: replies come back from .1, and .99's echo waits in an incomplete ARP entry.
# Wait (bounded) for each condition, as FreeBSD's tests poll: no fixed sleeps.
wait_for()
{
	tries=0
	until "$@"; do
		tries=$((tries + 1))
		[ $tries -lt 200 ] || atf_fail "still false after 10 s: $*"
		sleep 0.05
	done
}
wait_for sh -c 'jexec pinger netstat -sp icmp | grep -Eq "echo reply: [1-9]"'
wait_for sh -c 'jexec pinger arp -an | grep -q "198.51.100.99) at (incomplete)"'
ifconfig ${epair}a destroy
jail -r pinger
wait
atf_check -s exit:1 -e match:"does not exist" ifconfig ${epair}a
vnet_cleanup
