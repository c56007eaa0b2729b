#!/bin/sh
# A small source check in the spirit of curl's checksrc: no unbounded
# string calls, no atoi, no assignment inside an if condition (as curl's
# ASSIGNWITHINCONDITION: the `while ((x = next()) != NULL)` idiom stays).
set -u
bad=0
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*\(' \
	agent/*.c agent/*.h agent/*/*.c agent/*/*.h test/unit/*.c 2>/dev/null; then
	echo "checksrc: banned call above (use snprintf, memcpy with a length, strtol...)"
	bad=1
fi
if grep -nE '\bif[[:space:]]*\(\(?[[:space:]]*[A-Za-z_][A-Za-z0-9_>.-]*[[:space:]]*=[^=]' \
	agent/*.c agent/*/*.c test/unit/*.c 2>/dev/null; then
	echo "checksrc: assignment inside a condition above"
	bad=1
fi
exit $bad
