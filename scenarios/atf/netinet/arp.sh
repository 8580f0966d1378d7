#!/usr/libexec/atf-sh
# ARP tables are per vnet, in the style of FreeBSD's tests/sys/netinet/arp.sh.
# Run with: vimage atf run scenarios/atf/netinet/arp.sh

. $(atf_get_srcdir)/../common/vnet.subr

# entries JAIL: the IPv4 addresses in JAIL's ARP table, one a line, sorted.
entries()
{
	jexec $1 arp -an | awk -F '[()]' '/ at / { print $2 }' | sort
}

atf_test_case "arp_learn_per_vnet" "cleanup"
arp_learn_per_vnet_head()
{
	atf_set descr 'A ping fills the ARP table of the two jails it joins, nobody else'
	atf_set require.user root
}

arp_learn_per_vnet_body()
{
	vnet_init
	epair=$(vnet_mkepair)
	other=$(vnet_mkepair)
	vnet_mkjail alpha ${epair}a
	vnet_mkjail beta ${epair}b
	vnet_mkjail gamma ${other}a
	jexec alpha ifconfig ${epair}a inet 198.51.100.1/24 up
	jexec beta ifconfig ${epair}b inet 198.51.100.2/24 up
	jexec gamma ifconfig ${other}a inet 198.51.100.3/24 up

	atf_check -o ignore jexec alpha ping -c 1 198.51.100.2
	atf_check -o match:"^198\.51\.100\.2$" entries alpha
	atf_check -o match:"^198\.51\.100\.1$" entries beta
	atf_check -o not-match:"198\.51\.100\.[12]$" entries gamma
}

arp_learn_per_vnet_cleanup()
{
	vnet_cleanup
}

atf_test_case "arp_static_add_delete" "cleanup"
arp_static_add_delete_head()
{
	atf_set descr 'arp -s adds a permanent entry, arp -d removes it'
	atf_set require.user root
}

arp_static_add_delete_body()
{
	vnet_init
	epair=$(vnet_mkepair)
	vnet_mkjail alpha ${epair}a
	jexec alpha ifconfig ${epair}a inet 198.51.100.1/24 up

	for host in 10 11 12; do
		atf_check jexec alpha arp -s 198.51.100.$host 02:00:00:00:00:$host
	done
	n=$(entries alpha | grep -c '^198\.51\.100\.1[0-2]$')
	atf_check_equal 3 "$n"
	atf_check -o match:"permanent" jexec alpha arp -an
	atf_check -o ignore jexec alpha arp -d 198.51.100.11
	atf_check -o not-match:"198\.51\.100\.11" entries alpha
}

arp_static_add_delete_cleanup()
{
	vnet_cleanup
}

atf_test_case "arp_needs_config" 
arp_needs_config_head()
{
	atf_set descr 'Skipped unless run with -v arp.peer=ADDRESS (kyua -v)'
	atf_set require.config arp.peer
}

arp_needs_config_body()
{
	atf_check -o ignore echo "$(atf_config_get arp.peer)"
}

atf_init_test_cases()
{
	atf_add_test_case "arp_learn_per_vnet"
	atf_add_test_case "arp_static_add_delete"
	atf_add_test_case "arp_needs_config"
}
