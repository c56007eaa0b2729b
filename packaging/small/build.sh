#!/bin/sh
# packaging/small/build.sh: the small static build, build/small/certagent.
#
#   sh packaging/small/build.sh                 (make small)
#   CURL_SRC=/path/curl-8.x.tar.xz sh packaging/small/build.sh
#
# Why: Debian's libcurl brings 30-odd shared libraries (LDAP, SSH, RTMP,
# Kerberos, IDN, PSL, HTTP/2, brotli, zstd...) that certagent never uses;
# their file-backed pages are most of a running agent's memory, and an
# image must carry every one of them.  This build compiles libcurl with
# HTTP and HTTPS only and links it, OpenSSL, libuv, libyaml and cJSON
# statically; glibc alone stays shared (NSS and the resolver need it).
#
# DESIGN: the libcurl it builds, and cJSON's archive when Debian ships
# none, are cached under build/small/ keyed by the source and the
# configure list below, so a second run only relinks the agent.  Sources
# come from Debian's source packages (apt-get source, through a deb-src
# entry for the suite this machine already uses, added under
# /etc/apt/sources.list.d/ only if there is none) or, for curl, from a
# tarball given as CURL_SRC.  The agent itself is compiled by the
# Makefile (a sub-make with BUILD=build/small/obj), with
# -ffunction-sections -fdata-sections and linked with --gc-sections.
set -eu

cd "$(dirname "$0")/../.."
TOP=$(pwd)
OUT=$TOP/build/small
SRC=$OUT/src
MAKE=${MAKE:-make}
JOBS=${JOBS:-2}
CC=${CC:-cc}
mkdir -p "$OUT" "$SRC"

# libcurl's configuration: every protocol and feature off but what
# certagent uses.  One flag a line; "#" comments are dropped before use.
# Options a curl version does not know make configure warn, not fail.
CURL_CONFIG='
--disable-shared --enable-static --with-pic   # one archive, linked in
--with-openssl                  # TLS to Vault (HTTPS), OpenSSL 3 as the agent
--enable-http                   # the Vault API, and the control client
--enable-threaded-resolver      # names resolved off the loop: the agent refuses a libcurl without it
--enable-unix-sockets           # CURLOPT_UNIX_SOCKET_PATH: certagent rotate to the control socket
--enable-ipv6                   # Vault addresses may be v6
--enable-proxy                  # https_proxy / no_proxy from the environment, as the shared build
--enable-http-auth              # Basic for a proxy given as user:password@host
--enable-verbose                # error text (curl_easy_strerror, the error buffer) in every failure line
--enable-headers-api            # curl_easy_header: Retry-After, Location
--enable-dateparse              # curl_getdate: a Retry-After given as a date
--enable-socketpair             # how the threaded resolver wakes the loop
--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt   # Debian paths, as its libcurl
--with-ca-path=/etc/ssl/certs
--without-nghttp2               # HTTP/2: one connection to Vault, a few requests; not worth a library
--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-websockets
--disable-crypto-auth --disable-ntlm --disable-ntlm-wb --disable-tls-srp
--disable-cookies --disable-alt-svc --disable-hsts --disable-doh --disable-mime
--disable-netrc --disable-progress-meter --disable-dnsshuffle
--disable-get-easy-options --disable-manual --disable-libcurl-option
--without-nghttp3 --without-ngtcp2 --without-quiche --without-msh3 --without-hyper
--without-libidn2 --without-libpsl --without-brotli --without-zstd --without-zlib
--without-librtmp --without-libssh2 --without-libssh --without-libgsasl --without-gssapi
'

# A deb-src entry mirroring this machine's own deb entries (same URIs,
# suites and components), written only when apt knows no source index.
ensure_deb_src() {
	if apt-cache showsrc "$1" >/dev/null 2>&1 &&
	   [ -n "$(apt-cache showsrc "$1" 2>/dev/null)" ]; then
		return 0
	fi
	list=/etc/apt/sources.list.d/certagent-deb-src.sources
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	if ! grep -rqsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; then
		tmp=$(mktemp)
		# deb822 stanzas whose Types include deb ...
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk 'BEGIN { RS = ""; ORS = "\n\n" }
			     /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ {
				gsub(/(^|\n)#[^\n]*/, "")
				sub(/Types:[^\n]*/, "Types: deb-src")
				print }' "$f" >>"$tmp"
		done
		# ... and one-line "deb URI SUITE COMPONENTS" entries.
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			awk '$1 == "deb" {
				o = 2; signed = ""
				if ($2 ~ /^\[/) {	# [arch=... signed-by=...]
					for (; o <= NF; o++) {
						opt = $o; gsub(/[][]/, "", opt)
						if (opt ~ /^signed-by=/) signed = substr(opt, 11)
						if ($o ~ /\]$/) break
					}
					o++
				}
				printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents:", $o, $(o + 1)
				for (i = o + 2; i <= NF; i++) printf " %s", $i
				printf "\n"
				if (signed != "") printf "Signed-By: %s\n", signed
				printf "\n" }' "$f" >>"$tmp"
		done
		if [ ! -s "$tmp" ]; then
			rm -f "$tmp"
			echo "small: no deb entry to mirror as deb-src; give CURL_SRC=" >&2
			exit 1
		fi
		{
			echo "# Added by certagent's packaging/small/build.sh (make small):"
			echo "# the source packages of this machine's deb entries, for"
			echo "# apt-get source."
			cat "$tmp"
		} | $sudo tee "$list" >/dev/null
		rm -f "$tmp"
		echo "small: added $list"
	fi
	$sudo apt-get update -qq
}

# Unpack Debian's source package $1 (its patches applied) under $SRC and
# print the directory.
debian_source() {
	if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-source >/dev/null 2>&1; then
		echo "small: $1's source comes from apt-get source (Debian, Ubuntu;" \
			"dpkg-dev); without it give curl as CURL_SRC=curl-X.Y.Z.tar.xz" \
			"and install a static libcjson.a" >&2
		exit 1
	fi
	ensure_deb_src "$1" >&2
	ver=$(apt-cache showsrc "$1" | awk '/^Version:/ { print $2 }' |
		sort -V | tail -n 1)
	up=${ver#*:}
	up=${up%-*}
	dir=$SRC/$1-$ver
	if [ ! -f "$dir/.unpacked" ]; then
		rm -rf "$dir" "$SRC/dl-$1"
		mkdir -p "$SRC/dl-$1"
		(cd "$SRC/dl-$1" && apt-get source -qq "$1=$ver") >>"$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; exit 1; }
		mv "$SRC/dl-$1/$1-$up" "$dir"
		rm -rf "$SRC/dl-$1"
		touch "$dir/.unpacked"
	fi
	echo "$dir"
}

# An archive the toolchain finds for one of NAMES, or nothing.
archive() {
	for n in "$@"; do
		p=$($CC -print-file-name="$n")
		if [ "$p" != "$n" ] && [ -f "$p" ]; then
			readlink -f "$p"
			return 0
		fi
	done
	return 0
}

log=$OUT/build.log
: >"$log"

# --- libcurl -------------------------------------------------------------
curl_flags=$(printf '%s\n' "$CURL_CONFIG" | sed 's/#.*//' | tr -s ' \n\t' '   ')
if [ -n "${CURL_SRC:-}" ]; then
	[ -f "$CURL_SRC" ] || { echo "small: CURL_SRC=$CURL_SRC: no such file" >&2; exit 1; }
	sum=$(sha256sum "$CURL_SRC" | cut -c1-16)
	curl_dir=$SRC/curl-tarball-$sum
	if [ ! -f "$curl_dir/.unpacked" ]; then
		rm -rf "$curl_dir"
		mkdir -p "$curl_dir"
		tar -xf "$CURL_SRC" -C "$curl_dir" --strip-components=1
		touch "$curl_dir/.unpacked"
	fi
	curl_id="tarball $(basename "$CURL_SRC") $sum"
else
	curl_dir=$(debian_source curl)
	curl_id="debian $(basename "$curl_dir")"
fi
CURL_CFLAGS="-O2 -ffunction-sections -fdata-sections"
key=$(printf '%s\n%s\n%s\n%s\n' "$curl_id" "$curl_flags" "$CURL_CFLAGS" "$CC" |
	sha256sum | cut -c1-12)
CURL_PREFIX=$OUT/curl-$key
if [ -f "$CURL_PREFIX/.done" ]; then
	echo "small: libcurl cached in $CURL_PREFIX ($curl_id)"
else
	echo "small: building libcurl ($curl_id) into $CURL_PREFIX; log in $log"
	rm -rf "$CURL_PREFIX" "$OUT/curl-build"
	mkdir -p "$OUT/curl-build"
	# shellcheck disable=SC2086 # the flags are words
	(cd "$OUT/curl-build" &&
	 "$curl_dir/configure" --prefix="$CURL_PREFIX" CC="$CC" \
		CFLAGS="$CURL_CFLAGS" $curl_flags &&
	 $MAKE -j"$JOBS" -C lib &&
	 $MAKE -C lib install &&
	 $MAKE -C include install) >>"$log" 2>&1 ||
		{ tail -n 40 "$log" >&2; echo "small: libcurl build failed; see $log" >&2; exit 1; }
	grep -q 'unrecognized options' "$log" &&
		grep 'unrecognized options' "$log" | sed 's/^/small: /' >&2
	rm -rf "$OUT/curl-build"
	touch "$CURL_PREFIX/.done"
fi

# --- cJSON: Debian ships no archive; build one from its source package ----
CJSON_A=$(archive libcjson.a)
CJSON_INC=
if [ -z "$CJSON_A" ]; then
	cj=$(debian_source cjson)
	cjout=$OUT/cjson-$(basename "$cj" | sed 's/^cjson-//')
	if [ ! -f "$cjout/lib/libcjson.a" ]; then
		echo "small: building libcjson.a from $(basename "$cj")"
		mkdir -p "$cjout/lib" "$cjout/include/cjson"
		$CC -O2 -ffunction-sections -fdata-sections -c -o "$cjout/cJSON.o" "$cj/cJSON.c"
		ar rcs "$cjout/lib/libcjson.a.tmp" "$cjout/cJSON.o"
		cp "$cj/cJSON.h" "$cjout/include/cjson/cJSON.h"
		mv "$cjout/lib/libcjson.a.tmp" "$cjout/lib/libcjson.a"
	fi
	CJSON_A=$cjout/lib/libcjson.a
	CJSON_INC=-I$cjout/include
fi

# --- the agent: static archives where they exist, shared libraries else ---
libs="$CURL_PREFIX/lib/libcurl.a"
static="libcurl"
shared=""
for l in "openssl:libssl.a:-lssl" "openssl:libcrypto.a:-lcrypto" \
	 "libuv:libuv_a.a libuv.a:-luv" "libyaml:libyaml.a:-lyaml"; do
	name=${l%%:*}; rest=${l#*:}; files=${rest%%:*}; flag=${rest#*:}
	# shellcheck disable=SC2086
	a=$(archive $files)
	if [ -n "$a" ]; then
		libs="$libs $a"
		case " $static " in *" $name "*) ;; *) static="$static $name";; esac
	else
		echo "small: no static archive for $flag; linking it shared" >&2
		libs="$libs $flag"
		shared="$shared $name"
	fi
done
libs="$libs $CJSON_A -ldl -pthread"
static="$static cjson"
link="static: $static; shared: glibc$shared"

# Relative relocations packed (DT_RELR, glibc 2.36 and binutils 2.38 on):
# a static OpenSSL in a PIE has some 19,000 of them, 450 KB of .rela.dyn
# read at every start, 10 KB packed.  Used when the toolchain can.
ldflags="-Wl,--gc-sections -Wl,-O1"
if printf 'int main(void) { return 0; }\n' |
	$CC -x c -Wl,-z,pack-relative-relocs -o "$OUT/relr-test" - >/dev/null 2>&1 &&
	"$OUT/relr-test"; then
	ldflags="$ldflags -Wl,-z,pack-relative-relocs"
fi
rm -f "$OUT/relr-test"

obj=build/small/obj
if [ "$(cat "$obj/.key" 2>/dev/null)" != "$key $link $ldflags" ]; then
	rm -rf "$obj"
	mkdir -p "$obj"
	echo "$key $link $ldflags" >"$obj/.key"
fi
pkg_cflags="-I$CURL_PREFIX/include $CJSON_INC $(pkg-config --cflags libuv yaml-0.1 openssl)"
# shellcheck disable=SC2086
$MAKE SANITIZE= BUILD=$obj \
	OPT="-Os -ffunction-sections -fdata-sections '-DCERTAGENT_LINK=\"$link\"'" \
	PKG_CFLAGS="$pkg_cflags" PKG_LIBS="$libs" LDFLAGS="$ldflags" \
	"$obj/certagent"
if [ ! -f "$OUT/certagent" ] ||
   [ -n "$(find "$obj/certagent" -newer "$OUT/certagent")" ]; then
	strip -o "$OUT/certagent.tmp" "$obj/certagent"
	mv -f "$OUT/certagent.tmp" "$OUT/certagent"
fi
echo "small: $OUT/certagent ($(wc -c <"$OUT/certagent") bytes stripped; $link)"
if command -v ldd >/dev/null 2>&1; then
	ldd "$OUT/certagent" | sed 's/^/small:   /'
fi
