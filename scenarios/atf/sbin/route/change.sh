#!/usr/libexec/atf-sh
# route add / change / delete checked through netstat --libxo json, as FreeBSD's tests/sbin/route do.
# Run with: vimage atf run scenarios/atf/sbin/route/change.sh

. $(atf_get_srcdir)/utils.subr

atf_test_case "add_change_delete" "cleanup"
add_change_delete_head()
{
	atf_set descr 'A host route is added, moved to another gateway and deleted'
	atf_set require.user root
	atf_set require.progs jq
}

add_change_delete_body()
{
	vnet_init
	epair=$(vnet_mkepair)
	ifconfig ${epair}a 198.51.100.2/24 up
	vnet_mkjail pen ${epair}b
	jexec pen ifconfig ${epair}b 198.51.100.1/24 up

	atf_check -o ignore jexec pen route add 198.51.100.3 198.51.100.2
	atf_check_equal "$(gateway_of pen 198.51.100.3)" "198.51.100.2"
	atf_check -o inline:"change host 198.51.100.3: gateway 198.51.100.4\n" jexec pen route change 198.51.100.3 198.51.100.4
	atf_check_equal "$(gateway_of pen 198.51.100.3)" "198.51.100.4"
	atf_check -o ignore jexec pen route delete 198.51.100.3
	atf_check_equal "$(gateway_of pen 198.51.100.3)" ""
}

add_change_delete_cleanup()
{
	vnet_cleanup
}

atf_test_case "interface_routes" "cleanup"
interface_routes_head()
{
	atf_set descr 'Routes out of an interface, for a list of hosts in a loop'
	atf_set require.user root
	atf_set require.progs jq
}

interface_routes_body()
{
	vnet_init
	epair=$(vnet_mkepair)
	vnet_mkjail pen ${epair}b
	for host in 5 6 7; do
		atf_check -o ignore jexec pen route add 203.0.113.$host -iface ${epair}b
	done
	for host in 5 6 7; do
		gw=$(gateway_of pen 203.0.113.$host)
		case "$gw" in
		link#*) ;;
		*) atf_fail "203.0.113.$host: gateway '$gw', not a link" ;;
		esac
	done
	# flush removes gateway routes only: these stay.
	atf_check -o empty jexec pen route -n flush
	atf_check_equal "$(gateway_of pen 203.0.113.6 | cut -c1-5)" "link#"
}

interface_routes_cleanup()
{
	vnet_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case "add_change_delete"
	atf_add_test_case "interface_routes"
}
