#!/usr/libexec/atf-sh
# route(8), netstat(1), arp(8) and sysctl(8) driven as FreeBSD's tests drive them: output parsed with awk and jq.
# Run with: vimage atf run scenarios/atf/sbin/tools.sh

. $(atf_get_srcdir)/../common/vnet.subr

# setup JAIL: a jail on a fresh epair with 192.0.2.1/24; prints the interface.
setup()
{
	epair=$(vnet_mkepair)
	vnet_mkjail $1 ${epair}a
	jexec $1 ifconfig ${epair}a inet 192.0.2.1/24 up
	echo ${epair}a
}

atf_test_case "route_get_fields" "cleanup"
route_get_fields_head()
{
	atf_set descr 'route get prints FreeBSD fields that awk can pick'
	atf_set require.user root
}

route_get_fields_body()
{
	vnet_init
	ifp=$(setup alpha)
	atf_check -o inline:"add net 198.51.100.0: gateway 192.0.2.2\n" \
	    jexec alpha route add -net 198.51.100.0/24 -gateway 192.0.2.2 -mtu 1400
	gw=$(jexec alpha route -n get 198.51.100.9 | awk '/gateway:/ { print $2 }')
	atf_check_equal "$gw" "192.0.2.2"
	iface=$(jexec alpha route -n get 198.51.100.9 | awk '/interface:/ { print $2 }')
	atf_check_equal "$iface" "$ifp"
	mtu=$(jexec alpha route -n get 198.51.100.9 | awk 'f { print $5; exit } /recvpipe/ { f = 1 }')
	atf_check_equal "$mtu" "1400"
	atf_check -s exit:64 -e match:"bad keyword: prefsrc" jexec alpha route add 203.0.113.0/24 192.0.2.2 -prefsrc 192.0.2.1
	atf_check -s exit:64 -e inline:"route: invalid fib number: 1\n" jexec alpha route get 198.51.100.9 -fib 1
}

route_get_fields_cleanup()
{
	vnet_cleanup
}

atf_test_case "route_monitor" "cleanup"
route_monitor_head()
{
	atf_set descr 'route monitor reports a route added and deleted in its vnet'
	atf_set require.user root
}

route_monitor_body()
{
	vnet_init
	setup alpha >/dev/null
	jexec alpha route -n monitor > monitor.out &
	mon=$!
	# The monitor may start after the first change: repeat until it reports one.
	for i in $(seq 1 50); do
		jexec alpha route -q add 203.0.113.0/24 192.0.2.2
		jexec alpha route -q delete 203.0.113.0/24
		grep -q "^RTM_ADD" monitor.out && break
		sleep 0.1
	done
	kill $mon
	wait $mon 2>/dev/null
	atf_check -o match:"^RTM_ADD: Add Route: len 200, pid: 0, seq 0, errno 0, flags:<UP,GATEWAY,DONE,STATIC>$" cat monitor.out
	atf_check -o match:"^ 203\.0\.113\.0 192\.0\.2\.2 255\.255\.255\.0$" cat monitor.out
}

route_monitor_cleanup()
{
	vnet_cleanup
}

atf_test_case "netstat_libxo_json" "cleanup"
netstat_libxo_json_head()
{
	atf_set descr 'netstat --libxo json is parsed by jq'
	atf_set require.user root
	atf_set require.progs jq
}

netstat_libxo_json_body()
{
	vnet_init
	ifp=$(setup alpha)
	jexec alpha route add default 192.0.2.254 >/dev/null
	gw=$(jexec alpha netstat -rn --libxo json | jq -r '.statistics."route-information"."route-table"."rt-family"[0]."rt-entry"[] | select(.destination == "default") | .gateway')
	atf_check_equal "$gw" "192.0.2.254"
	mtu=$(jexec alpha netstat -i --libxo json | jq -r ".statistics.interface[] | select(.name == \"$ifp\" and (.network | startswith(\"<Link\"))) | .mtu")
	atf_check_equal "$mtu" "1500"
	n=$(jexec alpha netstat -s -p ip --libxo json | jq '.statistics.ip."received-packets"')
	atf_check test "$n" -ge 0
}

netstat_libxo_json_cleanup()
{
	vnet_cleanup
}

atf_test_case "arp_replace_and_json" "cleanup"
arp_replace_and_json_head()
{
	atf_set descr 'arp -S over an entry prints deleted; arp -a --libxo json lists it'
	atf_set require.user root
	atf_set require.progs jq
}

arp_replace_and_json_body()
{
	vnet_init
	setup alpha >/dev/null
	atf_check jexec alpha arp -S 192.0.2.9 02:00:00:00:00:09
	atf_check -o inline:"192.0.2.9 (192.0.2.9) deleted\n" jexec alpha arp -S 192.0.2.9 02:00:00:00:00:0a
	mac=$(jexec alpha arp -an --libxo json | jq -r '.arp."arp-cache"[] | select(."ip-address" == "192.0.2.9") | ."mac-address"')
	atf_check_equal "$mac" "02:00:00:00:00:0a"
	atf_check -s exit:1 -e match:"^usage: arp" jexec alpha arp -s 192.0.2.9
}

arp_replace_and_json_cleanup()
{
	vnet_cleanup
}

atf_test_case "sysctl_messages" "cleanup"
sysctl_messages_head()
{
	atf_set descr 'sysctl reports bad names and values as FreeBSD does, exit status = failures'
	atf_set require.user root
}

sysctl_messages_body()
{
	vnet_init
	vnet_mkjail alpha
	atf_check -s exit:1 -e inline:"sysctl: invalid integer 'abc'\n" jexec alpha sysctl net.inet.ip.ttl=abc
	atf_check -s exit:2 -o inline:"net.inet.ip.ttl: 64\n" -e ignore jexec alpha sysctl x.y net.inet.ip.ttl y.z
	atf_check -o inline:"integer\n" jexec alpha sysctl -nt net.inet.ip.ttl
	for name in $(jexec alpha sysctl -NW net.inet.ip | head -3); do
		atf_check -o not-match:"opaque" jexec alpha sysctl -t $name
	done
}

sysctl_messages_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "route_get_fields"
	atf_add_test_case "route_monitor"
	atf_add_test_case "netstat_libxo_json"
	atf_add_test_case "arp_replace_and_json"
	atf_add_test_case "sysctl_messages"
}
