#!/bin/sh
# Run each unit-test binary in its own process with a timeout (and under
# valgrind when VALGRIND=1), then print one total line.
set -u
pass=0 fail=0
for t in "$@"; do
	if [ "${VALGRIND:-0}" = 1 ]; then
		timeout 300 valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect "$t"
	else
		timeout 60 "$t"
	fi
	if [ $? -eq 0 ]; then pass=$((pass + 1)); else
		fail=$((fail + 1)); echo "unit: FAILED: $t"; fi
done
echo "unit test programs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
