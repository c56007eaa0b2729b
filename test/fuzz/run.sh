#!/bin/sh
# Run each libFuzzer harness for SECONDS, one after the other (the
# machines have two cores, shared): usage run.sh SECONDS NAME...
#
# Each starts from its checked-in seeds (test/fuzz/corpus/NAME, read
# only), with test/fuzz/NAME.dict (the words of its language) where there
# is one, and a working corpus in build/fuzz/corpus/NAME that keeps what
# it learns between runs.  libFuzzer runs every seed first, so a regression
# input that crashes again fails at once.  A crash, leak, timeout or
# sanitizer report leaves its input in build/fuzz/artifacts/ and fails
# the run; every target is run anyway, and the last line sums it up.
set -u
secs=$1
shift
dir=build/fuzz
mkdir -p "$dir/artifacts"
failed=""
passed=0
for t in "$@"; do
	mkdir -p "$dir/corpus/$t"
	dict=""
	[ -f "test/fuzz/$t.dict" ] && dict="-dict=test/fuzz/$t.dict"
	echo "fuzz: $t for ${secs}s"
	# shellcheck disable=SC2086
	if "$dir/fuzz_$t" -max_total_time="$secs" -timeout=10 $dict \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/$t-" \
		"$dir/corpus/$t" "test/fuzz/corpus/$t" >"$dir/$t.log" 2>&1; then
		passed=$((passed + 1))
		grep -E "stat::number_of_executed_units|Done [0-9]+ runs" \
			"$dir/$t.log" | tail -2
	else
		failed="$failed $t"
		tail -60 "$dir/$t.log"
		echo "fuzz: $t FAILED; input in $dir/artifacts/, log in $dir/$t.log"
	fi
done
nfail=$(echo $failed | wc -w)
echo "fuzz: $passed passed, $nfail failed"
[ -z "$failed" ]
