#!/usr/libexec/atf-sh
# atf-check(1) and atf-sh(3) semantics, each case named by the result the runner must report for it.

atf_test_case passed_bare_check
passed_bare_check_body()
{
	atf_check true
	atf_check -s exit:1 false
	atf_check -s not-exit:0 false
	atf_check -s ignore false
	atf_check -s signal:9 -e ignore sh -c 'kill -9 $$'
	atf_check -s signal:kill -e ignore sh -c 'kill -9 $$'
	atf_check -o inline:"a b\n" echo a b
	atf_check -o match:"^b" -o not-match:"^c" printf 'a\nb\n'
	atf_check -e match:oops -o empty sh -c 'echo oops >&2'
	atf_check -o save:saved echo kept
	atf_check -o file:saved echo kept
	atf_check -x "echo one | awk '{ print \$1 }' | grep -q one"
	atf_check_equal "$(atf_get descr)" "semantics"
	atf_check -o inline:"$(atf_get_srcdir)\n" atf_get_srcdir
}
passed_bare_check_head()
{
	atf_set descr semantics
}

atf_test_case failed_bare_check_with_output
failed_bare_check_with_output_body()
{
	atf_check echo unexpected
}

atf_test_case failed_wrong_status
failed_wrong_status_body()
{
	atf_check -s exit:3 -o ignore true
}

atf_test_case failed_by_atf_fail
failed_by_atf_fail_body()
{
	atf_fail "on purpose"
}

atf_test_case skipped_by_atf_skip
skipped_by_atf_skip_body()
{
	atf_skip "not here"
	atf_fail "unreached"
}

atf_test_case skipped_missing_prog
skipped_missing_prog_head()
{
	atf_set require.progs no-such-program-vimage
}
skipped_missing_prog_body()
{
	atf_fail "unreached"
}

atf_test_case expected_failure_marked
expected_failure_marked_body()
{
	atf_expect_fail "known bug"
	atf_check -s exit:0 false
}

atf_test_case failed_expected_but_passed
failed_expected_but_passed_body()
{
	atf_expect_fail "should have failed"
}

atf_test_case passed_cleanup_runs cleanup
passed_cleanup_runs_body()
{
	echo "body was here" >marker
}
passed_cleanup_runs_cleanup()
{
	# Same scratch directory as the body: the marker is there; prove it ran through the host's sysctl.
	[ -f marker ] && sysctl -n net.inet.ip.ttl >cleanup.ran && cp cleanup.ran "$VIMAGE_TEST_OUT"
}

atf_test_case broken_premature_exit
broken_premature_exit_body()
{
	exit 0
}

atf_init_test_cases()
{
	atf_add_test_case passed_bare_check
	atf_add_test_case failed_bare_check_with_output
	atf_add_test_case failed_wrong_status
	atf_add_test_case failed_by_atf_fail
	atf_add_test_case skipped_by_atf_skip
	atf_add_test_case skipped_missing_prog
	atf_add_test_case expected_failure_marked
	atf_add_test_case failed_expected_but_passed
	atf_add_test_case passed_cleanup_runs
	atf_add_test_case broken_premature_exit
}
