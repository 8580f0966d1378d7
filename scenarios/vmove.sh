# FreeBSD vnet.subr vnet_ifmove and ifconfig -vnet: an interface moves into a jail and back, and goes home
# when the jail is removed.
set -e
vnet_init
epair=$(vnet_mkepair)
vnet_mkjail mover
ifconfig ${epair}b vnet mover
atf_check -s exit:1 -e match:"does not exist" ifconfig ${epair}b
atf_check -o match:"^${epair}b:" jexec mover ifconfig ${epair}b
ifconfig ${epair}b -vnet mover
atf_check -o match:"^${epair}b:" ifconfig ${epair}b
ifconfig ${epair}b vnet mover
jail -r mover
atf_check -o match:"^${epair}b:" ifconfig ${epair}b
vnet_cleanup
