# FreeBSD tests/sys/net/if_bridge_test.sh mac_conflict, for epair: cloners and units are per vnet, so two
# jails each get epair0a/epair0b, with different MAC addresses, and traffic stays inside each jail.
set -e
vnet_init
vnet_mkjail one
vnet_mkjail two
atf_check -o inline:"epair0a\n" jexec one ifconfig epair create
atf_check -o inline:"epair0a\n" jexec two ifconfig epair create
jexec one ifconfig epair0a inet 192.0.2.1/24 up
jexec one ifconfig epair0b inet 192.0.2.2/24 up
jexec two ifconfig epair0a inet 192.0.2.1/24 up
jexec two ifconfig epair0b inet 192.0.2.2/24 up
atf_check -o match:"^epair0a:" jexec one ifconfig epair0a
atf_check -s exit:1 -e match:"does not exist" ifconfig epair0a
vnet_cleanup
