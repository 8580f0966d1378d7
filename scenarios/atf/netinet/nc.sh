#!/usr/libexec/atf-sh
# nc(1) between two jails, with the data on the shell's own pipes and files (the client streams stdin and stdout
# through the host). Run with: vimage atf run scenarios/atf/netinet/nc.sh

. $(atf_get_srcdir)/../common/vnet.subr

# pair: two jails "a" (192.0.2.1) and "b" (192.0.2.2) on one epair.
pair()
{
	vnet_init
	epair=$(vnet_mkepair)
	vnet_mkjail a ${epair}a
	vnet_mkjail b ${epair}b
	jexec a ifconfig ${epair}a inet 192.0.2.1/24 up
	jexec b ifconfig ${epair}b inet 192.0.2.2/24 up
}

# wait_bound JAIL PORT: until a socket of JAIL is bound to PORT (a listener started with &), at most 10 s.
wait_bound()
{
	i=0
	until jexec $1 sockstat -4 -l -q -p $2 | grep -q ":$2 "; do
		i=$((i + 1))
		[ $i -le 100 ] || atf_fail "nothing bound to port $2 in jail $1"
		sleep 0.1
	done
}

atf_test_case "tcp_pipe" "cleanup"
tcp_pipe_head()
{
	atf_set descr 'echo | nc -N sends a line that nc -l writes to stdout; both exit 0'
	atf_set require.user root
}

tcp_pipe_body()
{
	pair
	jexec b nc -l 7000 > received &
	listener=$!
	wait_bound b 7000
	echo hello | atf_check jexec a nc -N 192.0.2.2 7000
	wait $listener
	atf_check_equal 0 $?
	atf_check -o inline:"hello\n" cat received
}

tcp_pipe_cleanup()
{
	vnet_cleanup
}

atf_test_case "tcp_large" "cleanup"
tcp_large_head()
{
	atf_set descr 'A 4 MB binary file crosses both ways byte for byte'
	atf_set require.user root
}

tcp_large_body()
{
	pair
	dd if=/dev/urandom of=file bs=65536 count=64 2>/dev/null
	jexec b nc -l 7001 > received &
	listener=$!
	wait_bound b 7001
	atf_check jexec a nc -N 192.0.2.2 7001 < file
	wait $listener
	atf_check -o save:sum.sent cksum < file
	atf_check -o file:sum.sent cksum < received

	# the other way: the listener sends, the client only reads (-d)
	jexec b nc -N -l 7002 < file &
	listener=$!
	wait_bound b 7002
	jexec a nc -d 192.0.2.2 7002 | cksum > sum.back
	wait $listener
	atf_check -o file:sum.sent cat sum.back
}

tcp_large_cleanup()
{
	vnet_cleanup
}

atf_test_case "refused_and_scan" "cleanup"
refused_and_scan_head()
{
	atf_set descr 'A refused connect exits 1 (silent, or warned with -v); -z exits 0 if any port answers'
	atf_set require.user root
}

refused_and_scan_body()
{
	pair
	atf_check -s exit:1 jexec a nc 192.0.2.2 7999
	atf_check -s exit:1 -e inline:"nc: connect to 192.0.2.2 port 7999 (tcp) failed: Connection refused\n" \
	    jexec a nc -v 192.0.2.2 7999
	atf_check -s exit:1 jexec a nc -z 192.0.2.2 7990-7992

	jexec b nc -l 7991 > /dev/null &
	listener=$!
	wait_bound b 7991
	atf_check -s exit:0 -e match:"^Connection to 192.0.2.2 7991 port \[tcp/\*\] succeeded!$" \
	    -e match:"port 7990 \(tcp\) failed: Connection refused" jexec a nc -zv 192.0.2.2 7990-7992
	wait $listener
}

refused_and_scan_cleanup()
{
	vnet_cleanup
}

atf_test_case "udp_timeout" "cleanup"
udp_timeout_head()
{
	atf_set descr 'nc -u carries a datagram; -w ends an idle session and bounds connect'
	atf_set require.user root
}

udp_timeout_body()
{
	pair
	jexec b nc -u -l -v -w 2 7003 > received 2> report &
	listener=$!
	wait_bound b 7003
	echo datagram | atf_check jexec a nc -u -w 1 192.0.2.2 7003
	wait $listener
	atf_check_equal 0 $?
	atf_check -o inline:"datagram\n" cat received
	atf_check -o match:"^Connection from 192\.0\.2\.1 [0-9]+ received!$" cat report

	# nobody answers 192.0.2.77: connect gives up after -w 1
	atf_check -s exit:1 -e inline:"nc: connect to 192.0.2.77 port 7000 (tcp) failed: Operation timed out\n" \
	    jexec a nc -v -w 1 192.0.2.77 7000
}

udp_timeout_cleanup()
{
	vnet_cleanup
}

atf_test_case "usage_errors"
usage_errors_head()
{
	atf_set descr 'netcat'"'"'s messages for bad option combinations and arguments'
}

usage_errors_body()
{
	vnet_init
	atf_check -s exit:1 -e inline:"nc: cannot use -z and -l\n" nc -z -l 7000
	atf_check -s exit:1 -e inline:"nc: must use -l with -k\n" nc -k 192.0.2.1 7000
	atf_check -s exit:1 -e inline:"nc: cannot use -p and -l\n" nc -l -p 5 7000
	atf_check -s exit:1 -e inline:"nc: port number too large: 70000\n" nc 192.0.2.1 70000
	atf_check -s exit:1 -e inline:"nc: timeout invalid: x\n" nc -w x 192.0.2.1 7
	atf_check -s exit:1 -e match:"^usage: nc " nc 192.0.2.1
}

atf_init_test_cases()
{
	atf_add_test_case tcp_pipe
	atf_add_test_case tcp_large
	atf_add_test_case refused_and_scan
	atf_add_test_case udp_timeout
	atf_add_test_case usage_errors
}
