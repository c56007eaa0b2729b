#!/bin/sh
# Install the system packages certagent needs to build, test and demo,
# but only those that are missing: a machine that has them all is not
# touched (no package index update, no network).  PostgreSQL, nginx,
# gunicorn with uvicorn workers and Java's keytool are the real servers
# and tools the integration tests run (test/integration/test_servers.py).
set -eu

# Debian / Ubuntu
APT_PKGS="gcc make pkg-config libuv1-dev libcurl4-openssl-dev libssl-dev
libcjson-dev libyaml-dev libcmocka-dev openssl python3 python3-cryptography
python3-pytest python3-pytest-xdist python3-hvac python3-yaml valgrind umoci
postgresql nginx gunicorn python3-uvicorn default-jre-headless prometheus
faketime"
# keymat (test_keymat.py): javac for test/java/TlsPeer.java, run as `java File.java`
APT_PKGS="$APT_PKGS default-jdk-headless"
# Packaging (test_packaging.py): the unit's checks, the .deb and the .rpm;
# dpkg-dev is also what make small's apt-get source needs.
APT_PKGS="$APT_PKGS systemd procps man-db strace dpkg-dev debhelper fakeroot lintian rpm rpmlint"
# make fuzz: clang and its libFuzzer + sanitizer runtimes (test/fuzz/)
APT_PKGS="$APT_PKGS clang libclang-rt-14-dev"
# Fedora / RHEL
DNF_PKGS="gcc make pkgconf-pkg-config libuv-devel libcurl-devel openssl-devel
cjson-devel libyaml-devel libcmocka-devel openssl python3
python3-cryptography python3-pytest python3-pytest-xdist python3-hvac valgrind
postgresql-server postgresql nginx python3-gunicorn python3-uvicorn
java-21-openjdk-headless"
DNF_PKGS="$DNF_PKGS systemd procps-ng man-db strace rpm-build rpmlint"
DNF_PKGS="$DNF_PKGS clang compiler-rt"
DNF_PKGS="$DNF_PKGS java-21-openjdk-devel"	# keymat: javac
# Alpine
APK_PKGS="build-base pkgconf libuv-dev curl-dev openssl-dev cjson-dev
yaml-dev cmocka-dev openssl python3 py3-cryptography py3-pytest py3-pytest-xdist py3-hvac
valgrind postgresql postgresql-client nginx py3-gunicorn py3-uvicorn
openjdk21-jre-headless"
APK_PKGS="$APK_PKGS clang compiler-rt"
APK_PKGS="$APK_PKGS openjdk21-jdk"	# keymat: javac

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
	missing=""
	for p in $APT_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	echo "deps: installing$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends $missing
elif command -v dnf >/dev/null 2>&1; then
	missing=""
	for p in $DNF_PKGS; do
		rpm -q "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	echo "deps: installing$missing"
	$SUDO dnf install -y $missing
elif command -v apk >/dev/null 2>&1; then
	missing=""
	for p in $APK_PKGS; do
		apk info -e "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	echo "deps: installing$missing"
	$SUDO apk add $missing
else
	echo "deps: no apt-get, dnf or apk found; install by hand:" >&2
	echo "  libuv, libcurl (OpenSSL), OpenSSL 3, cJSON, libyaml, cmocka," >&2
	echo "  python3 with cryptography, pytest and hvac;" >&2
	echo "  for test/integration/test_servers.py: PostgreSQL, nginx," >&2
	echo "  gunicorn with uvicorn, and a Java runtime (keytool)" >&2
	exit 1
fi
