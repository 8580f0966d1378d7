#!/usr/libexec/atf-sh
# IPv4 forwarding through a router jail, in the style of FreeBSD's tests/sys/netinet/forward.sh: functions,
# loops and pipes into awk. Run with: vimage atf run scenarios/atf/netinet/forward.sh

. $(atf_get_srcdir)/../common/vnet.subr

# setup_chain: jails client - router - server on two epairs; client 192.0.2.1, server 198.51.100.2, each with a
# default route through the router.
setup_chain()
{
	left=$(vnet_mkepair)
	right=$(vnet_mkepair)
	vnet_mkjail client ${left}a
	vnet_mkjail router ${left}b ${right}a
	vnet_mkjail server ${right}b
	jexec client ifconfig ${left}a inet 192.0.2.1/24 up
	jexec router ifconfig ${left}b inet 192.0.2.2/24 up
	jexec router ifconfig ${right}a inet 198.51.100.1/24 up
	jexec server ifconfig ${right}b inet 198.51.100.2/24 up
	jexec client route add default 192.0.2.2 >/dev/null
	jexec server route add default 198.51.100.1 >/dev/null
}

# ipstat JAIL WHAT: the number in front of WHAT in netstat -sp ip.
ipstat()
{
	jexec $1 netstat -sp ip | awk -v what="$2" '$0 ~ what { print $1; exit }'
}

atf_test_case "fwd_ip_icmp_fast_success" "cleanup"
fwd_ip_icmp_fast_success_head()
{
	atf_set descr 'Test a few echo requests forwarded on the fast path'
	atf_set require.user root
}

fwd_ip_icmp_fast_success_body()
{
	vnet_init
	setup_chain
	atf_check -o ignore jexec router sysctl net.inet.ip.forwarding=1
	atf_check -o ignore jexec router sysctl net.inet.ip.redirect=0

	for i in 1 2 3; do
		atf_check -o match:"1 packets received" jexec client ping -c 1 -W 2000 198.51.100.2
	done

	# Three requests and three replies crossed the router.
	atf_check_equal 6 "$(ipstat router 'packets forwarded')"
	count=$(jexec router sh -c "netstat -sp ip | awk '/fast forwarded/ { gsub(/[()]/, \"\"); print \$4 }'")
	atf_check_equal 6 "$count"
}

fwd_ip_icmp_fast_success_cleanup()
{
	vnet_cleanup
}

atf_test_case "fwd_ip_forwarding_off" "cleanup"
fwd_ip_forwarding_off_head()
{
	atf_set descr 'With forwarding off the router drops transit packets'
	atf_set require.user root
}

fwd_ip_forwarding_off_body()
{
	vnet_init
	setup_chain

	atf_check -s exit:2 -o match:"0 packets received" jexec client ping -c 1 -W 500 198.51.100.2
	atf_check_equal 0 "$(ipstat router 'packets forwarded')"
}

fwd_ip_forwarding_off_cleanup()
{
	vnet_cleanup
}

atf_test_case "fwd_concurrent_pings" "cleanup"
fwd_concurrent_pings_head()
{
	atf_set descr 'Background pings run at once and wait returns each status'
	atf_set require.user root
}

fwd_concurrent_pings_body()
{
	vnet_init
	epair=$(vnet_mkepair)
	vnet_mkjail one ${epair}a
	vnet_mkjail two ${epair}b
	jexec one ifconfig ${epair}a inet 192.0.2.1/24 up
	jexec two ifconfig ${epair}b inet 192.0.2.2/24 up

	pids=
	for i in 1 2 3 4 5 6 7 8; do
		jexec one ping -c 2 -i 0.2 192.0.2.2 >/dev/null &
		pids="$pids $!"
	done
	jexec one ping -c 1 -W 300 192.0.2.99 >/dev/null &
	silent=$!
	for pid in $pids; do
		wait $pid || atf_fail "ping $pid exited $?"
	done
	if wait $silent; then
		atf_fail "a ping to nobody succeeded"
	fi
}

fwd_concurrent_pings_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "fwd_ip_icmp_fast_success"
	atf_add_test_case "fwd_ip_forwarding_off"
	atf_add_test_case "fwd_concurrent_pings"
}
