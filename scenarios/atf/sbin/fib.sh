#!/usr/libexec/atf-sh
# Multiple routing tables as FreeBSD's tests drive them: net.fibs, ifconfig fib, route -fib, netstat -F, setfib.
# Run with: vimage atf run scenarios/atf/sbin/fib.sh

. $(atf_get_srcdir)/../common/vnet.subr

atf_test_case "fib_routes" "cleanup"
fib_routes_head()
{
	atf_set descr 'an interface in fib 1 has its routes in fib 1; setfib runs route and ping there'
	atf_set require.user root
}

fib_routes_body()
{
	vnet_init
	epair=$(vnet_mkepair)
	vnet_mkjail alpha ${epair}a
	atf_check -o inline:"net.fibs: 1 -> 2\n" jexec alpha sysctl net.fibs=2
	atf_check -s exit:1 -e inline:"sysctl: net.fibs=1: Capabilities insufficient\n" -o ignore jexec alpha sysctl net.fibs=1
	jexec alpha ifconfig ${epair}a fib 1
	jexec alpha ifconfig ${epair}a inet 192.0.2.1/24 up
	atf_check -o match:"fib: 1" jexec alpha ifconfig ${epair}a
	# The connected route is in fib 1 only.
	n=$(jexec alpha netstat -rn -F 1 | awk '$1 == "192.0.2.0/24" { n++ } END { print n + 0 }')
	atf_check_equal "$n" "1"
	n=$(jexec alpha netstat -rn | awk '$1 == "192.0.2.0/24" { n++ } END { print n + 0 }')
	atf_check_equal "$n" "0"
	atf_check -o inline:"add net 198.51.100.0: gateway 192.0.2.2\n" jexec alpha route add -fib 1 -net 198.51.100.0/24 192.0.2.2
	fib=$(jexec alpha setfib 1 route -n get 198.51.100.9 | awk '/fib:/ { print $2 }')
	atf_check_equal "$fib" "1"
	atf_check -o ignore jexec alpha setfib 1 ping -c 1 -t 2 192.0.2.1
	atf_check -s exit:1 -e inline:"setfib: 2: invalid FIB (max 1)\n" jexec alpha setfib 2 ping -c 1 192.0.2.1
}

fib_routes_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "fib_routes"
}
