#!/usr/bin/env bash
# Sluice vs Traffic Server, Squid, httpd, tinyproxy and direct, side by side on loopback. See docs/benchmarks.md.
#
#   bench/run.sh                 full run: 5 rounds, 1 GiB files, 10 s wrk, 9,500 idle tunnels, 2-minute soaks.
#                                About 90 minutes on the 2-core machine (up to 2 hours when it is busy): ~50 for the
#                                one-hop rows (6 targets, all workloads), ~10 idle tunnels, ~7 soaks, ~10 policy,
#                                ~20 the inspected row (--no-inspect), ~5 the parent row's targets (--no-parent)
#   bench/run.sh --quick         1 round, 128 MiB files, 3 s wrk, 2,000 idle tunnels, 20 s soaks (about 8-10 minutes)
#   bench/run.sh --only sluice   rerun only Sluice's rows; direct and the peers come from the last run of the same mode
#   bench/run.sh --only parent   only the parent row: Sluice -> Squid parent vs Squid -> Squid parent, with Sluice and
#                                the parent Squid alone as one-hop baselines (JIT only; --quick: about 2 minutes)
#   bench/run.sh --only inspect  only the inspected row: Sluice with tls: inspect vs Squid ssl_bump (squid-openssl),
#                                with direct TLS and both proxies' plain tunnels as baselines (JIT only; --quick: ~3 min)
#
# Options: --reps N, --no-aot (skip the NativeAOT build), --no-policy (skip BenchmarkDotNet),
#          --no-build (reuse bench/out/jit and bench/out/aot as they are), --no-parent (leave out the parent row),
#          --no-inspect (leave out the inspected row),
#          --peers LIST (comma-separated subset of ats,squid,httpd,tinyproxy; default all four),
#          --no-c500, --no-auth, --no-names, --no-soak, --no-idle, --no-tls (leave out that row),
#          --docs / --no-docs (write docs/benchmarks.md + docs/benchmarks.png; default: only a full run of all targets
#          does; with --only parent or --only inspect, --docs rewrites only that row's part of docs/benchmarks.md).
#
# Everything listens on 127.0.0.1 only, every step is bounded in time, and every process started here is
# stopped on exit. Needs root for apt-get (only when something is missing) and for the origin's port 443.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$REPO/bench
WORK=/tmp/bench                  # the anchor configs name /tmp/bench for their pid and log files
MODE=full ONLY=all DOCS=auto AOT=1 POLICY=1 BUILD=1 PARENT=1 INSPECT=1 REPS=""
ALL_PEERS=(ats squid httpd tinyproxy) PEERS_ARG=ats,squid,httpd,tinyproxy
C500=1 AUTH=1 NAMES=1 SOAK=1 IDLE=1 TLS=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) MODE=quick ;;
    --only) ONLY=${2:?--only needs sluice, parent, inspect or all}; shift ;;
    --only=*) ONLY=${1#--only=} ;;
    --reps) REPS=${2:?}; shift ;;
    --no-aot) AOT=0 ;;
    --no-policy) POLICY=0 ;;
    --no-build) BUILD=0 ;;
    --no-parent) PARENT=0 ;;
    --no-inspect) INSPECT=0 ;;
    --peers) PEERS_ARG=${2:?--peers needs a list, e.g. ats,squid}; shift ;;
    --peers=*) PEERS_ARG=${1#--peers=} ;;
    --no-c500) C500=0 ;;
    --no-auth) AUTH=0 ;;
    --no-names) NAMES=0 ;;
    --no-soak) SOAK=0 ;;
    --no-idle) IDLE=0 ;;
    --no-tls) TLS=0 ;;
    --docs) DOCS=yes ;;
    --no-docs) DOCS=no ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $ONLY == all || $ONLY == sluice || $ONLY == parent || $ONLY == inspect ]] || { echo "--only takes sluice, parent, inspect or all" >&2; exit 2; }
[[ $ONLY == parent && $PARENT == 0 ]] && { echo "--only parent and --no-parent exclude each other" >&2; exit 2; }
[[ $ONLY == inspect && $INSPECT == 0 ]] && { echo "--only inspect and --no-inspect exclude each other" >&2; exit 2; }
PEERS=()
for p in ${PEERS_ARG//,/ }; do
  [[ " ${ALL_PEERS[*]} " == *" $p "* ]] || { echo "--peers: unknown peer $p (ats, squid, httpd, tinyproxy)" >&2; exit 2; }
  PEERS+=("$p")
done
has_peer() { [[ " ${PEERS[*]} " == *" $1 "* ]]; }
# The parent and inspected rows are built on Squid.
has_peer squid || PARENT=0 INSPECT=0
[[ $DOCS == auto ]] && { [[ $MODE == full && $ONLY == all && ${#PEERS[@]} == 4 ]] && DOCS=yes || DOCS=no; }
# The parent and inspected rows compare the JIT build only, and have no policy part; each --only leaves the other out.
[[ $ONLY == parent ]] && AOT=0 POLICY=0 INSPECT=0
[[ $ONLY == inspect ]] && AOT=0 POLICY=0 PARENT=0

if [[ $MODE == full ]]; then
  REPS=${REPS:-5} IDLE_REPS=3 WRK_SECS=10 WARM_SECS=2 SETTLE_SECS=15 BIG_BYTES=$((1024 * 1024 * 1024)) BIG_LABEL="1 GiB"
  TUNNEL_COUNT=20000 TUNNEL_SECS=30 IDLE_COUNT=9500 IDLE_STEADY=35 SOAK_SECS=120 SOAK_AFTER=60 BDN_ARGS=(--filter '*')
else
  REPS=${REPS:-1} IDLE_REPS=1 WRK_SECS=3 WARM_SECS=1 SETTLE_SECS=3 BIG_BYTES=$((128 * 1024 * 1024)) BIG_LABEL="128 MiB"
  TUNNEL_COUNT=3000 TUNNEL_SECS=10 IDLE_COUNT=2000 IDLE_STEADY=5 SOAK_SECS=20 SOAK_AFTER=15 BDN_ARGS=(--quick --filter '*DecideBenchmarks*' '*NameBenchmarks*')
fi

# Ports (127.0.0.1 only). Squid and tinyproxy ports are the anchors'; the origin's TLS port is 443 because it is
# the only TLS port both anchors allow CONNECT to (squid: 443 18080 18443; tinyproxy: 443 18080).
ORIGIN_HTTP=18080 ORIGIN_TLS=443
SQUID_PORT=13128 SQUID_TLS_PORT=13129 TINY_PORT=18888
# The parent row (ports fixed by its anchors): the parent Squid (squid-parent.conf) and its two children, Squid
# (squid-child.conf) and Sluice (the generated config plus sluice-child.yaml; 13143 is its unused TLS listener).
# The inspected row: Sluice with an inspecting rule (the generated config with sluice-inspect.yaml in place of its rule;
# 13151 is its unused TLS listener) and Squid with ssl_bump (squid-bump.conf), against the origin's port 18443, whose
# certificate is signed by a CA made at run time (both proxies trust it for the origin).
ORIGIN_INSPECT=18443
# Traffic Server and httpd: their anchors' ports (bench/anchors/ats/records.config, bench/anchors/httpd.conf), a plain
# proxy port and a TLS listener each. The auth row: Sluice (JIT 13134, AOT 13136) and Squid (13138, squid-auth.conf)
# with Basic authentication. The names row: Sluice with `resolver:` pointing at the local dnsmasq (JIT 13146, AOT 13148).
ATS_PORT=13160 ATS_TLS_PORT=13161 HTTPD_PORT=13170 HTTPD_TLS_PORT=13171 DNS_PORT=15353
declare -A PORT=([sluice]=13130 [sluice-aot]=13132 [squid]=$SQUID_PORT [tinyproxy]=$TINY_PORT
                 [ats]=$ATS_PORT [httpd]=$HTTPD_PORT
                 [sluice-auth]=13134 [sluice-aot-auth]=13136 [squid-auth]=13138
                 [sluice-names]=13146 [sluice-aot-names]=13148
                 [squid-parent]=13140 [squid-child]=13141 [sluice-child]=13142
                 [sluice-inspect]=13150 [squid-bump]=13152)
declare -A TLS_PORT=([sluice]=13131 [sluice-aot]=13133 [squid]=$SQUID_TLS_PORT [ats]=$ATS_TLS_PORT [httpd]=$HTTPD_TLS_PORT
                     [sluice-auth]=13135 [sluice-aot-auth]=13137 [sluice-names]=13147 [sluice-aot-names]=13149
                     [sluice-child]=13143 [sluice-inspect]=13151)
declare -A PID=()
# What the parent row measures: forwarded 1 KiB GETs, CONNECT with plain HTTP inside (the relay through two hops,
# without the client's TLS), a forwarded bulk GET and new tunnels per second. The other workloads are one-hop only.
PARENT_WORKLOADS=(fwd1k connect_plain fwd_dl newtunnels)
PARENT_TARGETS=(squid-parent sluice-child squid-child)
# What the inspected row measures, all HTTPS to the origin's port 18443 with the client trusting one CA: new inspected
# tunnels per second, kept-alive requests inside inspected tunnels, and a bulk download through one. Its targets run
# these workloads only; direct and the plain tunnels of the one-hop Sluice and Squid run them as baselines.
INSPECT_WORKLOADS=(inspect_new inspect_rps inspect_dl)
INSPECT_TARGETS=(sluice-inspect squid-bump)
INSPECT_BASELINES=(direct sluice squid)

OUT=$BENCH/out/$MODE
[[ $ONLY == parent ]] && OUT=$BENCH/out/$MODE-parent   # its own raw.tsv: never the cached rows of --only sluice
[[ $ONLY == inspect ]] && OUT=$BENCH/out/$MODE-inspect
RAW=$OUT/raw.tsv
LOGS=$OUT/logs
mkdir -p "$OUT" "$LOGS" "$WORK"
T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
# CPU time the hypervisor gave to other guests (steal): on a shared virtual machine it slows every target at once,
# which load averages do not show. Read as jiffies from /proc/stat (field 8 of the cpu line) at start and end.
cpu_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t }' /proc/stat; }
STEAL_START=$(cpu_jiffies)
log() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
names_address() { echo "127.1.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }   # the names row: the address of name i (0-999)

# ---------------------------------------------------------------- cleanup: stop exactly what we started
STARTED=()
descendants() {  # pid: the process ids below it (httpd's children, Squid's helpers), deepest last
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '{ pid = $1; sub(/^.*\) /, ""); parent[pid] = $2 }
    END { n = 1; todo[1] = root; while (n > 0) { p = todo[n--]; for (c in parent) if (parent[c] == p) { print c; todo[++n] = c } } }'
}
stop_pid() {
  local pid=$1 kids
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true     # squid waits shutdown_lifetime (30 s) on TERM; the anchor config keeps it
  wait "$pid" 2>/dev/null || true
  for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done   # what it started and left behind, by id
}
cleanup() {
  local rc=$?
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  [[ $rc -eq 0 ]] || log "stopped with exit code $rc; logs in $LOGS"
}
trap cleanup EXIT
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. dependencies
need=()
command -v squid >/dev/null || need+=(squid)
command -v tinyproxy >/dev/null || need+=(tinyproxy)
command -v traffic_server >/dev/null || need+=(trafficserver)
command -v apache2 >/dev/null || need+=(apache2)
command -v htpasswd >/dev/null || need+=(apache2-utils)     # the auth row's bcrypt users file
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)       # the names row's local DNS server
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v cc >/dev/null || need+=(gcc)
# matplotlib comes from Debian's python3-matplotlib, i.e. /usr/bin/python3 (another python3 may be first on PATH)
PY=python3
python3 -c 'import matplotlib' 2>/dev/null || PY=/usr/bin/python3
$PY -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
[[ $AOT == 1 ]] && ! command -v clang >/dev/null && need+=(clang zlib1g-dev)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing from apt: ${need[*]}"
  apt-get update -qq >"$LOGS/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$LOGS/apt.log" 2>&1 \
    || die "apt-get install failed, see $LOGS/apt.log"
fi
command -v dotnet >/dev/null || die "dotnet (SDK 10) is needed"

# The inspected row's Squid is Debian's squid-openssl: the same Squid built with OpenSSL, which has ssl_bump (the squid
# package is the GnuTLS build, without it). The two packages conflict (both ship /usr/sbin/squid), and the system's
# squid stays as it is (the test suite runs /usr/sbin/squid as a parent proxy), so the .deb of the installed squid's
# version is fetched with `apt-get download` and unpacked under bench/out/squid-openssl, never installed. Its data
# files (error pages, mime table) come from the installed squid-common, which is of the same source version.
SQUID_SSL=$BENCH/out/squid-openssl
if [[ $INSPECT == 1 && $ONLY != sluice ]]; then
  want=$(dpkg-query -W -f '${Version}' squid-common 2>/dev/null || true)
  [[ -n $want ]] || die "squid-common is not installed (the squid package brings it); the inspected row needs it"
  if [[ $(cat "$SQUID_SSL/version" 2>/dev/null) != "$want" || ! -x $SQUID_SSL/usr/sbin/squid ]]; then
    log "fetching squid-openssl $want with apt-get download (unpacked under bench/out/squid-openssl, not installed)"
    rm -rf "$SQUID_SSL" "$BENCH/out/squid-openssl-deb"
    mkdir -p "$BENCH/out/squid-openssl-deb"
    if ! (cd "$BENCH/out/squid-openssl-deb" && apt-get download "squid-openssl=$want") >"$LOGS/apt-squid-openssl.log" 2>&1; then
      apt-get update -qq >>"$LOGS/apt-squid-openssl.log" 2>&1
      (cd "$BENCH/out/squid-openssl-deb" && apt-get download "squid-openssl=$want") >>"$LOGS/apt-squid-openssl.log" 2>&1 \
        || die "apt-get download squid-openssl=$want failed, see $LOGS/apt-squid-openssl.log (--no-inspect leaves the row out)"
    fi
    dpkg-deb -x "$BENCH"/out/squid-openssl-deb/squid-openssl_*.deb "$SQUID_SSL" || die "cannot unpack squid-openssl"
    echo "$want" >"$SQUID_SSL/version"
  fi
  missing=$(ldd "$SQUID_SSL/usr/sbin/squid" "$SQUID_SSL/usr/lib/squid/security_file_certgen" | awk '/not found/ {print $1}' | sort -u | paste -sd' ' -)
  [[ -z $missing ]] || die "squid-openssl needs libraries that are not installed: $missing"
  "$SQUID_SSL/usr/sbin/squid" -v | grep -q -- '--with-openssl' || die "$SQUID_SSL/usr/sbin/squid is not built with OpenSSL"
  ln -sfn "$SQUID_SSL" "$WORK/squid-openssl"   # the path squid-bump.conf names for its certificate helper
fi

# Raise our open-file limit to the hard limit; 10,000 idle tunnels need two descriptors each in the proxy.
ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)
MAX_IDLE=$(( (FD_LIMIT - 1000) / 2 ))
if (( IDLE_COUNT > MAX_IDLE )); then
  log "open-file hard limit is $FD_LIMIT: idle tunnels reduced from $IDLE_COUNT to $MAX_IDLE (2 descriptors each in the proxy)"
  IDLE_COUNT=$MAX_IDLE
fi

for p in $ORIGIN_HTTP $ORIGIN_TLS $ORIGIN_INSPECT $DNS_PORT "${PORT[@]}" "${TLS_PORT[@]}"; do
  if ss -Hltn "sport = :$p" | grep -q .; then die "port $p on this machine is already in use; stop what uses it first"; fi
done

# ---------------------------------------------------------------- 2. build Sluice (Release; JIT and NativeAOT)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD)
DIRTY=$(git -C "$REPO" status --porcelain -- src | wc -l)
[[ $DIRTY -gt 0 ]] && COMMIT="$COMMIT (+$DIRTY uncommitted files in src/)"
ART=$BENCH/out/artifacts                       # own bin/obj, so a build here never races one in src/*/obj
# A hash of the sources: a build of the same sources is reused (the NativeAOT compile alone takes ~40 s).
SRC_HASH=$(cd "$REPO" && git ls-files -co --exclude-standard -- src Directory.Build.props | grep -v -e '/bin/' -e '/obj/' | sort \
           | xargs -d '\n' sha1sum 2>/dev/null | sha1sum | cut -c1-16)
same_build() { [[ -x $BENCH/out/$1/sluice && $(cat "$BENCH/out/$1.hash" 2>/dev/null) == "$SRC_HASH" ]]; }
log "building Sluice at $COMMIT"
if [[ $BUILD == 0 ]] || same_build jit; then
  [[ -x $BENCH/out/jit/sluice ]] || die "--no-build: no earlier build in bench/out/jit"
  [[ $BUILD == 0 ]] && log "--no-build: using bench/out/jit as it is" || log "JIT build of these sources exists: reused"
else
  rm -f "$BENCH/out/jit.hash"
  dotnet publish "$REPO/src/Sluice.Cli" -c Release -o "$BENCH/out/jit" --artifacts-path "$ART/jit" >"$LOGS/build-jit.log" 2>&1 \
    || die "Release build failed, see $LOGS/build-jit.log"
  echo "$SRC_HASH" >"$BENCH/out/jit.hash"
fi
AOT_STATUS="not built (--no-aot)"
if [[ $AOT == 1 ]] && { [[ $BUILD == 0 ]] || same_build aot; }; then
  AOT_STATUS=$(cat "$BENCH/out/aot.status" 2>/dev/null || echo "not built")
  [[ -x $BENCH/out/aot/sluice ]] || AOT=0
  [[ $AOT == 1 ]] && log "NativeAOT build of these sources exists: reused"
elif [[ $AOT == 1 ]]; then
  rm -f "$BENCH/out/aot.hash" "$BENCH/out/aot/sluice"
  if dotnet publish "$REPO/src/Sluice.Cli" -c Release -p:PublishAot=true -o "$BENCH/out/aot" --artifacts-path "$ART/aot" \
      >"$LOGS/build-aot.log" 2>&1; then
    AOT_STATUS="built with PublishAot=true"
  else
    why=$(grep -oE 'error [A-Z]+[0-9]+' "$LOGS/build-aot.log" | sort | uniq -c | awk '{printf "%s%s x%s", (NR>1?", ":""), $3, $1}')
    first=$(grep -m1 -oE '[^/ ]+\.cs\([0-9]+,[0-9]+\): error [A-Z]+[0-9]+' "$LOGS/build-aot.log" || true)
    log "NativeAOT build failed ($why; first: $first); retrying with trim/AOT warnings not treated as errors"
    if dotnet publish "$REPO/src/Sluice.Cli" -c Release -p:PublishAot=true -p:TreatWarningsAsErrors=false -o "$BENCH/out/aot" \
        --artifacts-path "$ART/aot" >"$LOGS/build-aot-relaxed.log" 2>&1; then
      AOT_STATUS="PublishAot=true fails with TreatWarningsAsErrors ($why; first at $first); built with TreatWarningsAsErrors=false"
    else
      AOT_STATUS="PublishAot=true fails ($why; first at $first), also with warnings allowed: see bench/out/$MODE/logs/build-aot*.log"
      AOT=0
    fi
  fi
  echo "$AOT_STATUS" >"$BENCH/out/aot.status"
  [[ $AOT == 1 ]] && echo "$SRC_HASH" >"$BENCH/out/aot.hash"
fi
log "AOT: $AOT_STATUS"

TARGETS=(sluice)                 # with --only sluice, direct comes from the cached run like Squid and tinyproxy
[[ $ONLY == all ]] && TARGETS=(direct sluice)
[[ $AOT == 1 ]] && TARGETS+=(sluice-aot)
[[ $ONLY == all ]] && TARGETS+=("${PEERS[@]}")
[[ $ONLY == inspect ]] && TARGETS=("${INSPECT_BASELINES[@]}")
# The inspected row: with --only sluice only Sluice's inspecting config is measured again (Squid ssl_bump and the
# baselines come from the last full run, as the other rows do).
if [[ $INSPECT == 1 ]]; then
  if [[ $ONLY == sluice ]]; then TARGETS+=(sluice-inspect); else TARGETS+=("${INSPECT_TARGETS[@]}"); fi
fi
# The parent row: the parent alone (a one-hop baseline, and the ceiling of both chains) and its two children. With
# --only sluice only Sluice's child is measured again; the parent still runs, as its parent, without being measured.
if [[ $PARENT == 1 ]]; then
  if [[ $ONLY == sluice ]]; then TARGETS+=(sluice-child); else TARGETS+=("${PARENT_TARGETS[@]}"); fi
fi
is_parent_row() { [[ " ${PARENT_TARGETS[*]} " == *" $1 "* ]]; }
is_inspect_row() { [[ " ${INSPECT_TARGETS[*]} " == *" $1 "* ]]; }
runs_workload() {  # workload target: the parent row's targets (and every target of --only parent) run its workloads
                   # only; the inspected row's workloads run for its targets and its baselines, its targets run no other
  if [[ $ONLY == parent ]] || is_parent_row "$2"; then [[ " ${PARENT_WORKLOADS[*]} " == *" $1 "* ]]; return; fi
  case $1 in   # the auth and names rows: Sluice's builds (through their own processes) and the peers that take part
    auth)  [[ $2 == sluice || $2 == sluice-aot || $2 == squid ]]; return ;;
    names) [[ $2 == sluice || $2 == sluice-aot || $2 == ats ]]; return ;;
  esac
  if [[ " ${INSPECT_WORKLOADS[*]} " == *" $1 "* ]]; then is_inspect_row "$2" || [[ " ${INSPECT_BASELINES[*]} " == *" $2 "* ]]; return; fi
  ! is_inspect_row "$2"
}

# ---------------------------------------------------------------- 3. origin: files, certificates, nginx
log "preparing the origin in $WORK"
mkdir -p "$WORK/www"
chmod 755 "$WORK"
gen_bytes() {   # deterministic, incompressible bytes (AES-CTR keystream of a fixed key)
  { openssl enc -aes-128-ctr -nosalt -K 00112233445566778899aabbccddeeff -iv 0 -in /dev/zero 2>/dev/null || true; } | head -c "$1"
}
[[ $(stat -c %s "$WORK/www/1k" 2>/dev/null || echo 0) == 1024 ]] || gen_bytes 1024 >"$WORK/www/1k"
BIG=big-$BIG_BYTES.bin
[[ $(stat -c %s "$WORK/www/$BIG" 2>/dev/null || echo 0) == "$BIG_BYTES" ]] || gen_bytes "$BIG_BYTES" >"$WORK/www/$BIG"
for name in origin proxy; do   # throw-away test certificates, made at run time, never in the repository
  [[ -s $WORK/$name.key ]] || openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$WORK/$name.key" -out "$WORK/$name.crt" 2>/dev/null
done
chmod 644 "$WORK"/*.crt "$WORK/proxy.key"   # squid drops to its own user before reading its certificate

# The inspected row's certificates, made afresh at every run under bench/out/pki (linked as /tmp/bench/pki, the path
# its anchors name), ECDSA P-256 throughout, valid 7 days, never committed: an origin CA and the leaf nginx serves
# with it on port 18443 (both proxies trust the origin CA for the origin), and the inspection CA both proxies sign
# their leaves with (the client trusts only it when it talks to an inspecting proxy).
PKI=$BENCH/out/pki
if [[ $INSPECT == 1 ]]; then
  rm -rf "$PKI"
  mkdir -p "$PKI"
  make_ca() {  # name common-name
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 -subj "/CN=$2" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$PKI/$1.key" -out "$PKI/$1.crt" >>"$LOGS/pki.log" 2>&1
  }
  make_ca origin-ca "Sluice bench origin CA" && make_ca inspect-ca "Sluice bench inspection CA" \
    && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
         -keyout "$PKI/origin.key" -out "$PKI/origin.csr" >>"$LOGS/pki.log" 2>&1 \
    && printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
         "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$PKI/origin.ext" \
    && openssl x509 -req -in "$PKI/origin.csr" -CA "$PKI/origin-ca.crt" -CAkey "$PKI/origin-ca.key" -days 7 \
         -set_serial "0x$(openssl rand -hex 8)" -extfile "$PKI/origin.ext" -out "$PKI/origin.crt" >>"$LOGS/pki.log" 2>&1 \
    || die "cannot make the inspected row's certificates, see $LOGS/pki.log"
  # Squid reads its CA key as its own user (proxy); the keys are throw-away, but not world-readable.
  { chgrp proxy "$PKI"/*.key && chmod 640 "$PKI"/*.key; } 2>/dev/null || chmod 644 "$PKI"/*.key
  ln -sfn "$PKI" "$WORK/pki"
fi
INSPECT_ORIGIN=""
# The names row's 1,000 origins: the same files on 127.1.0.1 … 127.1.3.250 (a listener per address: loopback only).
NAMES_ORIGIN=""
if [[ $NAMES == 1 ]]; then
  NAMES_ORIGIN=$'\n  server {'
  for i in $(seq 0 999); do NAMES_ORIGIN+=$'\n    listen '"$(names_address "$i"):$ORIGIN_HTTP;"; done
  NAMES_ORIGIN+=$'\n    root '"$WORK/www;"$'\n  }'
fi
[[ $INSPECT == 1 ]] && INSPECT_ORIGIN="
  server {   # the inspected row's origin: the same files, a certificate from the origin CA made above
    listen 127.0.0.1:$ORIGIN_INSPECT ssl backlog=4096;
    ssl_protocols TLSv1.2 TLSv1.3;   # nginx 1.22's default stops at TLS 1.2
    ssl_certificate $WORK/pki/origin.crt;
    ssl_certificate_key $WORK/pki/origin.key;
    root $WORK/www;
  }"

cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
worker_rlimit_nofile $FD_LIMIT;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections $((FD_LIMIT - 100)); }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 600s;
  client_header_timeout 600s;     # idle tunnels: the origin holds a connection that sends nothing
  client_body_timeout 60s;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$ORIGIN_HTTP backlog=4096;
    listen 127.0.0.1:$ORIGIN_TLS ssl backlog=4096;
    ssl_certificate $WORK/origin.crt;
    ssl_certificate_key $WORK/origin.key;
    root $WORK/www;
    location /upload { client_max_body_size 0; return 204; }   # reads and discards the body
  }$INSPECT_ORIGIN$NAMES_ORIGIN
}
EOF

start_bg() {   # name, command...: runs in the background, logs to $LOGS/name.log, remembers the pid
  local name=$1; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  PID[$name]=$!
  STARTED+=($!)
}
wait_port() {  # port, seconds
  local deadline=$(( $(date +%s) + $2 ))
  until ss -Hltn "sport = :$1" | grep -q .; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.05
  done
}
start_bg nginx nginx -c "$WORK/nginx.conf"
wait_port $ORIGIN_HTTP 10 && wait_port $ORIGIN_TLS 10 || die "nginx did not start, see $LOGS/nginx.log"
[[ $INSPECT == 0 ]] || wait_port $ORIGIN_INSPECT 10 || die "nginx did not listen on $ORIGIN_INSPECT, see $LOGS/nginx.log"
curl -sf -o /dev/null "http://127.0.0.1:$ORIGIN_HTTP/1k" || die "origin does not serve /1k"

# ---------------------------------------------------------------- 4. proxies
# Sluice: loopback, no access log, one rule for the loopback origin. Squid's and tinyproxy's anchors have no admin
# endpoint and no per-client connection limits, so Sluice's are turned off/raised where this build knows the keys
# (each optional line is kept only if `sluice check` accepts it: the config format moves while the proxy is worked on).
sluice_config() {  # port tls_port extra-lines...
  local port=$1 tls=$2; shift 2
  cat <<EOF
# generated by bench/run.sh
name: sluice-bench
listeners:
  - address: 127.0.0.1:$port
  - address: 127.0.0.1:$tls
    tls: { certificate: $WORK/proxy.crt, key: $WORK/proxy.key }
timeouts: { connect: 10s, idle: 10m, requestHeaders: 30s }
log: { access: off }
addresses:
  allow: ["127.0.0.0/8"]
rules:
  - name: bench-origin
    action: allow
    destinations: ["127.0.0.1", "localhost"]
default: deny
EOF
  [[ $# -gt 0 ]] && printf '%s\n' "$@"
  return 0
}
SLUICE_CHECK=$BENCH/out/jit/sluice
sluice_config 1 2 >"$WORK/sluice-probe.yaml"
"$SLUICE_CHECK" check --config "$WORK/sluice-probe.yaml" >"$LOGS/sluice-check.log" 2>&1 || die "the benchmark's Sluice config does not validate, see $LOGS/sluice-check.log"
SLUICE_EXTRA=()
for line in "admin: off" "limits: { maxConnections: 1000000 }" "limits: { maxConnectionsPerClient: 1000000 }" \
            "limits: { maxTunnelsPerClient: 1000000 }"; do
  sluice_config 1 2 "$line" >"$WORK/sluice-probe.yaml"
  if "$SLUICE_CHECK" check --config "$WORK/sluice-probe.yaml" >/dev/null 2>&1; then SLUICE_EXTRA+=("$line"); fi
done
# merge the accepted limits into one mapping
limits=$(printf '%s\n' "${SLUICE_EXTRA[@]}" | sed -n 's/^limits: { \(.*\) }$/\1/p' | paste -sd, - | sed 's/,/, /g')
extra=()
for line in "${SLUICE_EXTRA[@]}"; do [[ $line == limits:* ]] || extra+=("$line"); done
[[ -n $limits ]] && extra+=("limits: { $limits }")
for s in sluice sluice-aot; do sluice_config "${PORT[$s]}" "${TLS_PORT[$s]}" "${extra[@]}" >"$WORK/$s.yaml"; done
"$SLUICE_CHECK" check --config "$WORK/sluice.yaml" >"$LOGS/sluice-check.log" 2>&1 || die "generated $WORK/sluice.yaml does not validate"
log "Sluice config: $WORK/sluice.yaml (optional lines accepted by this build: ${extra[*]:-none})"
# Sluice as a child: the same config plus the parent row's anchor lines (upstreams: and route.default).
sluice_config "${PORT[sluice-child]}" "${TLS_PORT[sluice-child]}" "${extra[@]}" "$(cat "$BENCH/anchors/sluice-child.yaml")" >"$WORK/sluice-child.yaml"
if [[ $PARENT == 1 ]]; then
  "$SLUICE_CHECK" check --config "$WORK/sluice-child.yaml" >"$LOGS/sluice-child-check.log" 2>&1 \
    || die "generated $WORK/sluice-child.yaml does not validate (this build may not know upstreams:), see $LOGS/sluice-child-check.log; --no-parent leaves the row out"
fi
# Sluice inspecting: the same generated config with the anchor's tls.inspection and inspecting rule in place of the rule.
if [[ $INSPECT == 1 ]]; then
  { sluice_config "${PORT[sluice-inspect]}" "${TLS_PORT[sluice-inspect]}" "${extra[@]}" | sed '/^rules:$/,/^default: deny$/d'
    cat "$BENCH/anchors/sluice-inspect.yaml"; } >"$WORK/sluice-inspect.yaml"
  "$SLUICE_CHECK" check --config "$WORK/sluice-inspect.yaml" >"$LOGS/sluice-inspect-check.log" 2>&1 \
    || die "generated $WORK/sluice-inspect.yaml does not validate (this build may not know tls: inspect), see $LOGS/sluice-inspect-check.log; --no-inspect leaves the row out"
  # Squid ssl_bump: the anchor exactly, and a fresh certificate database for its helper (owned by Squid's user).
  cp "$BENCH/anchors/squid-bump.conf" "$WORK/squid-bump.conf"
  if [[ $ONLY != sluice ]]; then
    rm -rf "$WORK/squid-ssl-db"
    "$SQUID_SSL/usr/lib/squid/security_file_certgen" -c -s "$WORK/squid-ssl-db" -M 4MB >"$LOGS/squid-ssl-db.log" 2>&1 \
      || die "security_file_certgen -c failed, see $LOGS/squid-ssl-db.log"
    chown -R proxy:proxy "$WORK/squid-ssl-db"
  fi
fi
# Squid: the anchor config exactly; the TLS-listener workload adds one https_port line to a copy of it.
cp "$BENCH/anchors/squid.conf" "$WORK/squid.conf"
{ cat "$BENCH/anchors/squid.conf"
  echo "https_port 127.0.0.1:$SQUID_TLS_PORT tls-cert=$WORK/proxy.crt tls-key=$WORK/proxy.key"; } >"$WORK/squid-tls.conf"
cp "$BENCH/anchors/tinyproxy.conf" "$WORK/tinyproxy.conf"
cp "$BENCH/anchors/squid-parent.conf" "$BENCH/anchors/squid-child.conf" "$WORK/"
for f in squid-cache squid-parent-cache squid-child-cache squid-bump-cache squid-auth-cache; do
  touch "$WORK/$f.log" && chown proxy "$WORK/$f.log" 2>/dev/null || true
done
# Traffic Server: the anchor directory as its sysconfdir, and a runroot of its own under /tmp/bench/ats (config, run,
# log, cache and state directories there; binaries and plugins from the package), so nothing system-wide is used or
# changed. It runs as traffic_server in the foreground (no traffic_manager) and drops to the trafficserver user.
ATS_DIR=$WORK/ats
if [[ " ${TARGETS[*]} " == *" ats "* ]]; then
  rm -rf "$ATS_DIR"
  mkdir -p "$ATS_DIR"/{etc,run,log,cache,var,share}
  cp "$BENCH"/anchors/ats/* "$ATS_DIR/etc/"
  : >"$ATS_DIR/etc/hosts"
  cat >"$ATS_DIR/runroot.yaml" <<ROOT
prefix: $ATS_DIR
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $ATS_DIR/etc
datadir: $ATS_DIR/share
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $ATS_DIR/var
runtimedir: $ATS_DIR/run
logdir: $ATS_DIR/log
cachedir: $ATS_DIR/cache
ROOT
  chown -R trafficserver:trafficserver "$ATS_DIR" 2>/dev/null || chmod -R a+rwX "$ATS_DIR"
fi
# httpd: the anchor exactly (a complete config; its ServerRoot and runtime directory are /tmp/bench/httpd).
if [[ " ${TARGETS[*]} " == *" httpd "* ]]; then
  rm -rf "$WORK/httpd"; mkdir -p "$WORK/httpd"; chown www-data "$WORK/httpd" 2>/dev/null || true
  cp "$BENCH/anchors/httpd.conf" "$WORK/httpd.conf"
  apache2 -f "$WORK/httpd.conf" -t >"$LOGS/httpd-check.log" 2>&1 || die "httpd rejects bench/anchors/httpd.conf, see $LOGS/httpd-check.log"
fi

# The auth row: one bcrypt users file for Sluice and Squid, made at run time (cost 10, htpasswd's default for -B;
# `sluice passwd` if htpasswd is missing). User bench, password benchpass: throw-away, loopback only.
AUTH_USER=bench AUTH_PASS=benchpass AUTH_FILE=$WORK/auth.htpasswd AUTH_STATUS="not measured (--no-auth)"
AUTH_B64=$(printf '%s:%s' "$AUTH_USER" "$AUTH_PASS" | base64)
AUX=()              # processes the auth and names rows measure under their Sluice or peer target's name
if [[ $AUTH == 1 && $ONLY != parent && $ONLY != inspect ]]; then
  if command -v htpasswd >/dev/null; then
    htpasswd -nbB -C 10 "$AUTH_USER" "$AUTH_PASS" | grep . >"$AUTH_FILE"; AUTH_HASH="htpasswd -nbB -C 10"
  else
    printf '%s\n' "$AUTH_PASS" | "$SLUICE_CHECK" passwd "$AUTH_FILE" "$AUTH_USER" --password-stdin >"$LOGS/passwd.log" 2>&1
    AUTH_HASH="sluice passwd"
  fi
  chmod 644 "$AUTH_FILE"                           # Squid's helper reads it as Squid's user
  AUTH_STATUS="bcrypt users file ($(cut -d: -f2 "$AUTH_FILE" | cut -c1-7)…, made with $AUTH_HASH)"
  for s in sluice sluice-aot; do
    sluice_config "${PORT[$s-auth]}" "${TLS_PORT[$s-auth]}" "${extra[@]}" \
      "auth: { basic: { realm: bench, usersFile: $AUTH_FILE } }" \
      | sed "s/^    destinations: \[\"127.0.0.1\", \"localhost\"\]\$/&\n    users: [$AUTH_USER]/" >"$WORK/$s-auth.yaml"
  done
  if "$SLUICE_CHECK" check --config "$WORK/sluice-auth.yaml" >"$LOGS/sluice-auth-check.log" 2>&1; then
    AUX+=(sluice-auth); [[ $AOT == 1 ]] && AUX+=(sluice-aot-auth)
  else
    AUTH_STATUS="Sluice: not measured, this build rejects auth.basic / users: (see logs/sluice-auth-check.log)"
    log "auth row: $AUTH_STATUS"
  fi
  if [[ " ${TARGETS[*]} " == *" squid "* ]]; then
    cp "$BENCH/anchors/squid-auth.conf" "$WORK/squid-auth.conf"
    if [[ $(printf '%s %s\n' "$AUTH_USER" "$AUTH_PASS" | timeout 10 /usr/lib/squid/basic_ncsa_auth "$AUTH_FILE" 2>&1) == OK* ]]; then
      AUX+=(squid-auth)
    else
      AUTH_STATUS="$AUTH_STATUS; Squid: not measured, basic_ncsa_auth does not accept this bcrypt file"
      log "auth row: basic_ncsa_auth does not accept $AUTH_FILE's bcrypt hash: Squid left out"
    fi
  fi
fi

# The names row: dnsmasq on 127.0.0.1:15353 answers n0.bench.test … n999.bench.test, each with its own loopback
# address (127.1.0.1 … 127.1.3.250, TTL 300 s, the origin listens on all of them), and nothing else (no upstream
# servers, no /etc/hosts). Its IP-literal half rotates over the same 1,000 addresses, so both halves reach 1,000
# distinct origins and only the lookup differs (a proxy keeps its idle upstream connections per origin). Sluice asks it through `resolver: { servers: [...] }` where this
# build knows the key (probed with `sluice check`; the row is left out otherwise); Traffic Server through
# proxy.config.dns.nameservers (in its anchor: it never asks the system's servers). Squid's dns_nameservers takes addresses without a port, so it cannot ask 15353.
NAMES_STATUS="not measured (--no-names)"
if [[ $NAMES == 1 && $ONLY != parent && $ONLY != inspect ]]; then
  for i in $(seq 0 999); do echo "$(names_address "$i") n$i.bench.test"; done >"$WORK/names.hosts"
  start_bg dnsmasq dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --keep-in-foreground --listen-address=127.0.0.1 \
    --bind-interfaces --port=$DNS_PORT --local-ttl=300 --addn-hosts="$WORK/names.hosts" --local=/bench.test/ \
    --pid-file="$WORK/dnsmasq.pid"   # --local: AAAA and unknown names under bench.test get NODATA / NXDOMAIN, not REFUSED
  for _ in $(seq 100); do python3 "$BENCH/tools/dnsq.py" 127.0.0.1 $DNS_PORT n0.bench.test n999.bench.test >/dev/null 2>&1 && break; sleep 0.1; done
  python3 "$BENCH/tools/dnsq.py" 127.0.0.1 $DNS_PORT n0.bench.test n999.bench.test >"$LOGS/dnsq.log" 2>&1 \
    || die "dnsmasq on 127.0.0.1:$DNS_PORT does not answer n0/n999.bench.test, see $LOGS/dnsmasq.log and $LOGS/dnsq.log"
  NAMES_STATUS="dnsmasq $(dnsmasq -v | awk 'NR==1 {print $3}') on 127.0.0.1:$DNS_PORT, 1,000 names, TTL 300 s"
  for s in sluice sluice-aot; do
    sluice_config "${PORT[$s-names]}" "${TLS_PORT[$s-names]}" "${extra[@]}" "resolver: { servers: [\"127.0.0.1:$DNS_PORT\"] }" \
      | sed 's/^    destinations: \["127.0.0.1", "localhost"\]$/    destinations: [".bench.test", "127.0.0.1", "127.1.0.0\/16", "localhost"]/' >"$WORK/$s-names.yaml"
  done
  if "$SLUICE_CHECK" check --config "$WORK/sluice-names.yaml" >"$LOGS/sluice-names-check.log" 2>&1; then
    AUX+=(sluice-names); [[ $AOT == 1 ]] && AUX+=(sluice-aot-names)
  else
    NAMES_STATUS="$NAMES_STATUS; Sluice: not measured, this build does not accept resolver: { servers: [...] } (sluice check: $(grep -m1 -oE "unknown key '[^']+'[^(]*" "$LOGS/sluice-names-check.log" || echo "see logs/sluice-names-check.log"))"
    log "names row: Sluice left out: this build does not accept resolver: (see $LOGS/sluice-names-check.log)"
  fi
  NAMES_STATUS="$NAMES_STATUS; Squid left out (dns_nameservers takes no port)"
fi
is_aux() { [[ " ${AUX[*]} " == *" $1 "* ]]; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
start_proxy() {  # target [squid-conf]: starts it and records the time to its first forwarded 200
  local t=$1 conf=${2:-$WORK/squid.conf} t_start
  t_start=$(now_ms)
  case $t in
    sluice)       start_bg sluice "$BENCH/out/jit/sluice" run --config "$WORK/sluice.yaml" ;;
    sluice-aot)   start_bg sluice-aot "$BENCH/out/aot/sluice" run --config "$WORK/sluice-aot.yaml" ;;
    sluice-child) start_bg sluice-child "$BENCH/out/jit/sluice" run --config "$WORK/sluice-child.yaml" ;;
    squid)        rm -f "$WORK/squid.pid"; start_bg squid squid -N -f "$conf" ;;
    squid-parent|squid-child) rm -f "$WORK/$t.pid"; start_bg "$t" squid -N -f "$WORK/$t.conf" ;;
    sluice-inspect) start_bg sluice-inspect "$BENCH/out/jit/sluice" run --config "$WORK/sluice-inspect.yaml" ;;
    squid-bump)   rm -f "$WORK/squid-bump.pid"; start_bg squid-bump "$SQUID_SSL/usr/sbin/squid" -N -f "$WORK/squid-bump.conf" ;;
    tinyproxy)    rm -f "$WORK/tinyproxy.pid"; start_bg tinyproxy tinyproxy -d -c "$WORK/tinyproxy.conf" ;;
    ats)          start_bg ats traffic_server --run-root="$ATS_DIR/runroot.yaml" ;;
    httpd)        rm -f "$WORK/httpd.pid"; start_bg httpd apache2 -f "$WORK/httpd.conf" -DFOREGROUND ;;
    sluice-auth|sluice-names) start_bg "$t" "$BENCH/out/jit/sluice" run --config "$WORK/$t.yaml" ;;
    sluice-aot-auth|sluice-aot-names) start_bg "$t" "$BENCH/out/aot/sluice" run --config "$WORK/$t.yaml" ;;
    squid-auth)   rm -f "$WORK/squid-auth.pid"; start_bg squid-auth squid -N -f "$WORK/squid-auth.conf" ;;
  esac
  local deadline=$(( t_start + 20000 )) cred=() url="http://127.0.0.1:$ORIGIN_HTTP/1k"
  [[ $t == *-auth ]] && cred=(--proxy-user "$AUTH_USER:$AUTH_PASS")
  [[ $t == *-names ]] && url="http://n1.bench.test:$ORIGIN_HTTP/1k"
  until [[ $(curl -s -o /dev/null -m 1 -w '%{http_code}' "${cred[@]}" -x "http://127.0.0.1:${PORT[$t]}" "$url" 2>/dev/null) == 200 ]]; do
    kill -0 "${PID[$t]}" 2>/dev/null || die "$t exited at start, see $LOGS/$t.log"
    (( $(now_ms) < deadline )) || die "$t does not forward within 20 s, see $LOGS/$t.log"
    sleep 0.01
  done
  record startup "$t" 0 ms $(( $(now_ms) - t_start ))
  if [[ $t == *-auth ]]; then   # without credentials the answer must be a 407, or the row measures no authentication
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -x "http://127.0.0.1:${PORT[$t]}" "http://127.0.0.1:$ORIGIN_HTTP/1k") || true
    [[ $code == 407 ]] || die "$t answers ${code:-nothing} to a request without credentials (407 expected)"
  fi
  if [[ $t == *-child ]]; then   # the answer must have crossed the parent Squid (its Via), or the row measures nothing
    curl -s -m 5 -o /dev/null -D - -x "http://127.0.0.1:${PORT[$t]}" "http://127.0.0.1:$ORIGIN_HTTP/1k" | grep -qi '^via:.*bench-squid-parent' \
      || die "$t answers without going through the parent Squid (no Via from bench-squid-parent)"
  fi
  if is_inspect_row "$t"; then   # a CONNECT must be inspected: a client that trusts only the inspection CA gets through
    local code
    code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' --cacert "$PKI/inspect-ca.crt" -p -x "http://127.0.0.1:${PORT[$t]}" \
           "https://127.0.0.1:$ORIGIN_INSPECT/1k" 2>"$LOGS/$t-inspect-check.err") || true
    [[ $code == 200 ]] || die "$t does not inspect: a client trusting only the inspection CA got ${code:-nothing} ($(head -c 300 "$LOGS/$t-inspect-check.err"))"
  fi
}
stop_proxy() { [[ -n ${PID[$1]:-} ]] && stop_pid "${PID[$1]}"; unset "PID[$1]"; }

# ---------------------------------------------------------------- measurements
# raw.tsv: workload, target, repetition, metric, value, note
[[ -f $RAW ]] && cp "$RAW" "$OUT/raw.previous.tsv"
: >"$RAW"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$RAW"; }

proxy_url() { echo "http://127.0.0.1:${PORT[$1]}"; }

cat >"$WORK/abs.lua" <<EOF
-- wrk through a forward proxy: absolute-form request line, Host of the origin
wrk.path = "http://127.0.0.1:$ORIGIN_HTTP/1k"
wrk.headers["Host"] = "127.0.0.1:$ORIGIN_HTTP"
EOF
# The names row: one script, two host lists. Every request names the next of 1,000 hosts (n0.bench.test … n999, each
# thread starting elsewhere), or the next of the 1,000 addresses those names resolve to, in the same request-building
# code, so only the name differs.
names_lua() {  # host-expression
  cat <<EOF
-- wrk through a forward proxy: absolute-form request line, the host rotating per request (bench/run.sh names row)
local n = 0
function setup(thread) thread:set("start", math.random(0, 999)) end
function init(args) n = start or 0 end
function request()
  n = (n + 1) % 1000
  local host = $1 .. ":$ORIGIN_HTTP"
  return wrk.format("GET", "http://" .. host .. "/1k", { Host = host })
end
EOF
}
names_lua '"n" .. n .. ".bench.test"' >"$WORK/names.lua"
names_lua '"127.1." .. math.floor(n / 250) .. "." .. (n % 250 + 1)' >"$WORK/names_ip.lua"
wrk_to_ms='function ms(v){ if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /m$/) return v*60000; if (v ~ /s$/) return v*1000; return v }'
wrk_measure() {  # workload target rep threads conns lua-script url [wrk args...]: a warm-up, then the measured run
  local w=$1 t=$2 rep=$3 threads=$4 conns=$5 script=$6 url=$7; shift 7
  local args=("$@") out
  [[ -n $script ]] && args+=(-s "$script")
  timeout $((WARM_SECS + 20)) wrk -t"$threads" -c"$conns" -d"${WARM_SECS}s" "${args[@]}" "$url" >/dev/null 2>&1 || true
  out=$(timeout $((WRK_SECS + 30)) wrk -t"$threads" -c"$conns" -d"${WRK_SECS}s" --latency "${args[@]}" "$url" 2>&1) || true
  echo "$out" >"$LOGS/wrk-$w-$t-$rep.txt"
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk "$wrk_to_ms"' $1 == "50%" {print ms($2)}' <<<"$out")
  p99=$(awk "$wrk_to_ms"' $1 == "99%" {print ms($2)}' <<<"$out")
  # errors: non-2xx answers plus connect/write/timeout socket errors. Read errors are counted apart: wrk
  # reports a connection the proxy closes after a response as one (tinyproxy does not keep client connections).
  bad=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(",",""); n+=$4+$8+$10} END {print n+0}' <<<"$out")
  closed=$(awk '/Socket errors/ {gsub(",",""); n+=$6} END {print n+0}' <<<"$out")
  record "$w" "$t" "$rep" rps "${rps:-nan}" "errors=$bad read_errors=$closed"
  record "$w" "$t" "$rep" p50_ms "${p50:-nan}"
  record "$w" "$t" "$rep" p99_ms "${p99:-nan}"
  record "$w" "$t" "$rep" errors "$bad"
  WRK_RPS=${rps:-nan}
  log "  $(printf '%-9s' "$w") $t: ${rps:-?} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms, errors $bad, read errors (closes) $closed"
}
w_fwd1k() {  # target rep: forwarded 1 KiB GETs, 50 kept-alive connections (direct: the same GET in origin-form)
  local t=$1 rep=$2
  if [[ $t == direct ]]; then wrk_measure fwd1k "$t" "$rep" 2 50 "" "http://127.0.0.1:$ORIGIN_HTTP/1k"
  else wrk_measure fwd1k "$t" "$rep" 2 50 "$WORK/abs.lua" "$(proxy_url "$t")"; fi
}
w_fwd1k_c500() {  # the same with 500 connections over 4 wrk threads
  local t=$1 rep=$2
  if [[ $t == direct ]]; then wrk_measure fwd1k_c500 "$t" "$rep" 4 500 "" "http://127.0.0.1:$ORIGIN_HTTP/1k"
  else wrk_measure fwd1k_c500 "$t" "$rep" 4 500 "$WORK/abs.lua" "$(proxy_url "$t")"; fi
}
w_auth() {  # target rep: forwarded 1 KiB GETs with Basic credentials, through the target's authenticating process
  local t=$1 rep=$2
  is_aux "$t-auth" || { log "  auth      $t: not measured (see the auth row's note)"; return 0; }
  wrk_measure auth "$t" "$rep" 2 50 "$WORK/abs.lua" "$(proxy_url "$t-auth")" -H "Proxy-Authorization: Basic $AUTH_B64"
}
w_names() {  # target rep: the rotating script over 1,000 names, and the same script over the IP literal, back to back
  local t=$1 rep=$2 proc=$1 ip names first second w
  [[ $t == ats ]] || proc=$t-names
  [[ $t == ats ]] || is_aux "$proc" || { log "  names     $t: not measured (see the names row's note)"; return 0; }
  first=names_ip second=names; (( rep % 2 == 0 )) && first=names second=names_ip   # alternate which goes first
  for w in $first $second; do
    wrk_measure "$w" "$t" "$rep" 2 50 "$WORK/$w.lua" "$(proxy_url "$proc")"
    [[ $w == names ]] && names=$WRK_RPS || ip=$WRK_RPS
  done
  record names "$t" "$rep" vs_ip "$(awk -v a="$names" -v b="$ip" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.4f", a / b }')"
}
curl_rate() {  # workload target rep expect_code size_field curl-args...: records MB/s (10^6 bytes per second)
  local w=$1 t=$2 rep=$3 code=$4 field=$5; shift 5
  local out
  out=$(timeout 300 curl -sS -o /dev/null -w "%{http_code} %{$field} %{time_total}" "$@" 2>"$LOGS/curl-$w-$t-$rep.err") || true
  read -r got bytes secs <<<"$out"
  if [[ ${got:-} == "$code" && ${bytes:-0} == "$BIG_BYTES" ]]; then
    local mbps; mbps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "%.1f", b / s / 1e6}')
    record "$w" "$t" "$rep" MBps "$mbps"
    log "  $(printf '%-9s' "$w") $t: $mbps MB/s"
  else
    record "$w" "$t" "$rep" MBps nan "failed: status=${got:-none} bytes=${bytes:-0} $(head -c 200 "$LOGS/curl-$w-$t-$rep.err" | tr '\t\n' '  ')"
    log "  $w $t: FAILED (status ${got:-none}, ${bytes:-0} bytes)"
  fi
}
w_connect_dl() {
  local t=$1 rep=$2 p=()
  [[ $t != direct ]] && p=(-p -x "$(proxy_url "$t")")
  curl_rate connect_dl "$t" "$rep" 200 size_download "${p[@]}" -k "https://127.0.0.1:$ORIGIN_TLS/$BIG"
}
w_connect_plain() {   # the same tunnel download with plain HTTP inside: the proxy's relay without the client's TLS cost
  local t=$1 rep=$2 p=()
  [[ $t != direct ]] && p=(-p -x "$(proxy_url "$t")")
  curl_rate connect_plain "$t" "$rep" 200 size_download "${p[@]}" "http://127.0.0.1:$ORIGIN_HTTP/$BIG"
}
w_fwd_dl() {
  local t=$1 rep=$2 p=()
  [[ $t != direct ]] && p=(-x "$(proxy_url "$t")")
  curl_rate fwd_dl "$t" "$rep" 200 size_download "${p[@]}" "http://127.0.0.1:$ORIGIN_HTTP/$BIG"
}
w_tunnel_ul() {
  local t=$1 rep=$2 p=()
  [[ $t != direct ]] && p=(-p -x "$(proxy_url "$t")")
  curl_rate tunnel_ul "$t" "$rep" 204 size_upload "${p[@]}" -k -X POST -H 'Expect:' -T "$WORK/www/$BIG" "https://127.0.0.1:$ORIGIN_TLS/upload"
}
w_fwd_ul() {   # the same upload as a forwarded POST: the request body the proxy passes on itself, not a tunnel's bytes
  local t=$1 rep=$2 p=()
  [[ $t != direct ]] && p=(-x "$(proxy_url "$t")")
  curl_rate fwd_ul "$t" "$rep" 204 size_upload "${p[@]}" -X POST -H 'Expect:' -T "$WORK/www/$BIG" "http://127.0.0.1:$ORIGIN_HTTP/upload"
}
w_tls_dl() {
  local t=$1 rep=$2 p=()
  [[ $t != direct ]] && p=(--proxy-insecure -p -x "https://127.0.0.1:${TLS_PORT[$t]}")
  curl_rate tls_dl "$t" "$rep" 200 size_download "${p[@]}" -k "https://127.0.0.1:$ORIGIN_TLS/$BIG"
}
w_newtunnels() {
  local t=$1 rep=$2 out extra=() port=0
  if [[ $t == direct ]]; then extra=(--direct); else port=${PORT[$t]}; fi
  out=$(timeout $((TUNNEL_SECS + 30)) "$BENCH/out/bin/tunnels" 127.0.0.1 "$port" 127.0.0.1 $ORIGIN_HTTP /1k 16 \
        "$TUNNEL_COUNT" "$TUNNEL_SECS" "${extra[@]}" 2>&1) || true
  local rate failed
  rate=$(grep -oE 'rate=[0-9.]+' <<<"$out" | cut -d= -f2)
  failed=$(grep -oE 'failed=[0-9]+' <<<"$out" | cut -d= -f2)
  record newtunnels "$t" "$rep" per_s "${rate:-nan}" "$out"
  log "  newtunnels $t: ${rate:-?}/s (failed ${failed:-?}) $(grep -oE 'first_error=.*' <<<"$out")"
}
# The inspected row. Its client is bench/Sluice.Bench's `load` (InspectLoad.cs): .NET SslStream, which trusts exactly
# one CA file (the inspection CA through an inspecting proxy, the origin CA through a plain tunnel or direct), so a
# handshake through Squid ssl_bump or Sluice inspect succeeds only with a leaf the proxy minted. Full handshakes (no
# TLS resumption towards the proxy); --warmup runs the same workload first in the same process.
LOAD_DLL=$ART/bdn/bin/Sluice.Bench/release/Sluice.Bench.dll
load_args() {  # target: how the client reaches the origin, which CA it trusts, and whose CPU time it reads
  local t=$1
  case $t in
    direct) printf '%s\n' --ca "$PKI/origin-ca.crt" ;;
    sluice-inspect|squid-bump) printf '%s\n' --proxy "127.0.0.1:${PORT[$t]}" --ca "$PKI/inspect-ca.crt" --watch "proxy=${PID[$t]}" ;;
    *) printf '%s\n' --proxy "127.0.0.1:${PORT[$t]}" --ca "$PKI/origin-ca.crt" --watch "proxy=${PID[$t]}" ;;
  esac
  printf '%s\n' --target "127.0.0.1:$ORIGIN_INSPECT" --path /1k --watch "origin=${PID[nginx]}"
}
kv() { { grep -oE "(^| )$1=[^ ]+" <<<"$2" || true; } | head -1 | cut -d= -f2; }   # key line: a value of the client's line
per_op() { awk -v c="$1" -v n="$2" -v f="$3" 'BEGIN { if (c == "" || n + 0 == 0) print "nan"; else printf "%.3f", c * f / n }'; }
record_cpu() {  # workload target rep out ops factor unit: CPU time per operation of the proxy, the origin and the client
  local w=$1 t=$2 rep=$3 out=$4 ops=$5 f=$6 unit=$7 who
  for who in proxy origin client; do
    [[ $who == proxy && $t == direct ]] && continue
    record "$w" "$t" "$rep" "cpu_${who}_$unit" "$(per_op "$(kv "cpu_${who}_ms" "$out")" "$ops" "$f")"
  done
}
w_inspect_new() {
  local t=$1 rep=$2 out args
  mapfile -t args < <(load_args "$t")
  out=$(timeout $((WARM_SECS + TUNNEL_SECS + 60)) dotnet "$LOAD_DLL" load new "${args[@]}" --conns 16 \
        --count "$TUNNEL_COUNT" --seconds "$TUNNEL_SECS" --warmup "$WARM_SECS" 2>"$LOGS/load-new-$t-$rep.err" | tail -1) || true
  echo "$out" >"$LOGS/load-new-$t-$rep.txt"
  local rate ok
  rate=$(kv rate "$out") ok=$(kv ok "$out")
  record inspect_new "$t" "$rep" per_s "${rate:-nan}" "${out:-no output: $(head -c 200 "$LOGS/load-new-$t-$rep.err" | tr '\t\n' '  ')}"
  record_cpu inspect_new "$t" "$rep" "$out" "${ok:-0}" 1 ms_per_op
  record_rss inspect_new "$t" "$rep"
  log "  inspect_new $t: ${rate:-?}/s (failed $(kv failed "$out"), proxy CPU $(per_op "$(kv cpu_proxy_ms "$out")" "${ok:-0}" 1) ms/tunnel) $(kv tls "$out") $(kv first_error "$out")"
}
w_inspect_rps() {
  local t=$1 rep=$2 out args
  mapfile -t args < <(load_args "$t")
  out=$(timeout $((WARM_SECS + WRK_SECS + 60)) dotnet "$LOAD_DLL" load keepalive "${args[@]}" --conns 50 \
        --count 100000000 --seconds "$WRK_SECS" --warmup "$WARM_SECS" 2>"$LOGS/load-rps-$t-$rep.err" | tail -1) || true
  echo "$out" >"$LOGS/load-rps-$t-$rep.txt"
  local rps ok
  rps=$(kv rps "$out") ok=$(kv ok "$out")
  record inspect_rps "$t" "$rep" rps "${rps:-nan}" "${out:-no output: $(head -c 200 "$LOGS/load-rps-$t-$rep.err" | tr '\t\n' '  ')}"
  record inspect_rps "$t" "$rep" p50_ms "$(kv p50_ms "$out")"
  record inspect_rps "$t" "$rep" p99_ms "$(kv p99_ms "$out")"
  record inspect_rps "$t" "$rep" p999_ms "$(kv p999_ms "$out")"
  record_cpu inspect_rps "$t" "$rep" "$out" "${ok:-0}" 1000 us_per_op
  record_rss inspect_rps "$t" "$rep"
  log "  inspect_rps $t: ${rps:-?} req/s, p50 $(kv p50_ms "$out") ms, p99 $(kv p99_ms "$out") ms (failed $(kv failed "$out")) $(kv first_error "$out")"
}
tree_ticks() {  # pid: utime + stime (clock ticks) of a process and all its descendants (Squid's helpers, nginx's worker)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '{
      pid = $1; sub(/^.*\) /, "")               # the command name may hold spaces: fields after it, from the state
      parent[pid] = $2; ticks[pid] = $12 + $13 }
    END { n = 1; todo[1] = root; total = 0
      while (n > 0) { p = todo[n--]; total += ticks[p]; for (c in parent) if (parent[c] == p) todo[++n] = c }
      print total }'
}
tree_rss_kb() {  # pid: resident memory (VmRSS, KiB) of a process and its descendants
  local total=0 p
  for p in $({ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '{ pid = $1; sub(/^.*\) /, ""); parent[pid] = $2 }
      END { n = 1; todo[1] = root; while (n > 0) { p = todo[n--]; print p; for (c in parent) if (parent[c] == p) todo[++n] = c } }'); do
    total=$(( total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}
record_rss() {  # workload target rep: the proxy's resident memory after an inspected-row workload (a leak shows as growth)
  [[ $2 == direct ]] || record "$1" "$2" "$3" rss_after_kb "$(tree_rss_kb "${PID[$2]}")"
}
w_inspect_dl() {   # curl, as workload 2: the client trusts the inspection CA (inspecting proxies) or the origin CA
  local t=$1 rep=$2 p=() ca=$PKI/origin-ca.crt proxy0=0 origin0 hz
  is_inspect_row "$t" && ca=$PKI/inspect-ca.crt
  [[ $t != direct ]] && p=(-p -x "$(proxy_url "$t")") && proxy0=$(tree_ticks "${PID[$t]}")
  origin0=$(tree_ticks "${PID[nginx]}")
  curl_rate inspect_dl "$t" "$rep" 200 size_download "${p[@]}" --cacert "$ca" "https://127.0.0.1:$ORIGIN_INSPECT/$BIG"
  hz=$(getconf CLK_TCK)
  [[ $t != direct ]] && record inspect_dl "$t" "$rep" cpu_proxy_s_per_GB \
    "$(per_op $(( $(tree_ticks "${PID[$t]}") - proxy0 )) "$BIG_BYTES" "$(awk -v hz="$hz" 'BEGIN {print 1e9 / hz}')")"
  record inspect_dl "$t" "$rep" cpu_origin_s_per_GB \
    "$(per_op $(( $(tree_ticks "${PID[nginx]}") - origin0 )) "$BIG_BYTES" "$(awk -v hz="$hz" 'BEGIN {print 1e9 / hz}')")"
  record_rss inspect_dl "$t" "$rep"
}
w_idle() {
  local t=$1 rep=$2 out
  stop_proxy "$t"; start_proxy "$t"        # fresh process: its baseline is not what earlier workloads left behind
  for _ in $(seq 20); do curl -s -o /dev/null -x "$(proxy_url "$t")" "http://127.0.0.1:$ORIGIN_HTTP/1k"; done
  curl -s -o /dev/null -p -x "$(proxy_url "$t")" -k "https://127.0.0.1:$ORIGIN_TLS/1k"
  sleep 1
  out=$(timeout 300 python3 "$BENCH/tools/idle.py" --pid "${PID[$t]}" --proxy "127.0.0.1:${PORT[$t]}" \
        --target "127.0.0.1:$ORIGIN_HTTP" --count "$IDLE_COUNT" --settle 3 --steady "$IDLE_STEADY" --max-seconds 150 2>&1 | tail -1) || true
  local per est steady
  per=$(grep -oE 'kb_per_tunnel=[0-9.na-]+' <<<"$out" | cut -d= -f2)
  est=$(grep -oE 'established=[0-9]+' <<<"$out" | cut -d= -f2)
  record idle "$t" "$rep" kb_per_tunnel "${per:-nan}" "$out"
  record idle "$t" "$rep" established "${est:-0}"
  steady=$(grep -oE 'kb_per_tunnel_steady=[0-9.na-]+' <<<"$out" | cut -d= -f2)
  [[ -n $steady ]] && record idle "$t" "$rep" kb_per_tunnel_steady "$steady"
  log "  idle      $t: ${per:-?} KiB/tunnel; $out"
}

w_soak() {  # target: memory under a mixed load, on a fresh process
  local t=$1 base peak=0 after rss deadline pids=() dl=0 wrk_out tun_out
  stop_proxy "$t"; start_proxy "$t"
  for _ in $(seq 20); do curl -s -o /dev/null -x "$(proxy_url "$t")" "http://127.0.0.1:$ORIGIN_HTTP/1k"; done
  curl -s -o /dev/null -p -x "$(proxy_url "$t")" -k "https://127.0.0.1:$ORIGIN_TLS/1k"
  sleep 1
  base=$(tree_rss_kb "${PID[$t]}")
  deadline=$(( $(date +%s) + SOAK_SECS ))
  # at once: forwarded 1 KiB GETs (wrk, 16 connections), new tunnels (8 threads) and bulk tunnel downloads in a row
  timeout $((SOAK_SECS + 30)) wrk -t1 -c16 -d"${SOAK_SECS}s" -s "$WORK/abs.lua" "$(proxy_url "$t")" >"$LOGS/soak-wrk-$t.txt" 2>&1 &
  pids+=($!); STARTED+=($!)
  timeout $((SOAK_SECS + 30)) "$BENCH/out/bin/tunnels" 127.0.0.1 "${PORT[$t]}" 127.0.0.1 $ORIGIN_HTTP /1k 8 100000000 "$SOAK_SECS"     >"$LOGS/soak-tunnels-$t.txt" 2>&1 &
  pids+=($!); STARTED+=($!)
  ( while (( $(date +%s) < deadline )); do
      timeout 300 curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' -p -x "$(proxy_url "$t")" "http://127.0.0.1:$ORIGIN_HTTP/$BIG" || true
    done ) >"$LOGS/soak-dl-$t.txt" 2>&1 &
  pids+=($!); STARTED+=($!)
  while (( $(date +%s) < deadline + 30 )); do
    rss=$(tree_rss_kb "${PID[$t]}"); (( rss > peak )) && peak=$rss
    echo "$(date +%s) $rss" >>"$LOGS/soak-rss-$t.txt"
    local running=0 p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
    (( running )) || break
    sleep 1
  done
  for p in "${pids[@]}"; do stop_pid "$p"; done
  sleep "$SOAK_AFTER"
  after=$(tree_rss_kb "${PID[$t]}")
  kill -0 "${PID[$t]}" 2>/dev/null || die "$t exited during the soak, see $LOGS/$t.log"
  dl=$(grep -c "^200 $BIG_BYTES\$" "$LOGS/soak-dl-$t.txt" || true)
  wrk_out=$(awk '/requests in/ {print $1}' "$LOGS/soak-wrk-$t.txt")
  tun_out=$(grep -oE 'ok=[0-9]+ failed=[0-9]+' "$LOGS/soak-tunnels-$t.txt" | head -1)
  local note="requests=${wrk_out:-?} tunnels:${tun_out:-?} downloads=$dl"
  record soak "$t" 1 rss_base_mib "$(awk -v k="$base" 'BEGIN {printf "%.1f", k / 1024}')" "$note"
  record soak "$t" 1 rss_peak_mib "$(awk -v k="$peak" 'BEGIN {printf "%.1f", k / 1024}')"
  record soak "$t" 1 rss_after_mib "$(awk -v k="$after" 'BEGIN {printf "%.1f", k / 1024}')"
  record soak "$t" 1 after_over_base "$(awk -v a="$after" -v b="$base" 'BEGIN {printf "%.3f", a / b}')"
  log "  soak      $t: RSS $((base / 1024)) MiB at start, peak $((peak / 1024)) MiB, $((after / 1024)) MiB ${SOAK_AFTER}s after ($note)"
}

# ---------------------------------------------------------------- 5. run
mkdir -p "$BENCH/out/bin"
cc -O2 -pthread -o "$BENCH/out/bin/tunnels" "$BENCH/tools/tunnels.c" || die "cannot compile bench/tools/tunnels.c"
if [[ $INSPECT == 1 ]]; then   # the inspected row's client (bench/Sluice.Bench, which also holds the policy benchmark)
  dotnet build "$BENCH/Sluice.Bench" -c Release --artifacts-path "$ART/bdn" >"$LOGS/build-bdn.log" 2>&1 \
    || die "cannot build bench/Sluice.Bench (the inspected row's client), see $LOGS/build-bdn.log"
fi

PROXIES=(); for t in "${TARGETS[@]}"; do [[ $t == direct ]] || PROXIES+=("$t"); done
# The parent Squid starts before its children (their readiness check goes through it); --only sluice starts it too,
# for Sluice's child, without measuring it.
if [[ " ${PROXIES[*]} " == *" sluice-child "* && " ${PROXIES[*]} " != *" squid-parent "* ]]; then PROXIES=(squid-parent "${PROXIES[@]}"); fi
log "starting proxies: ${PROXIES[*]}${AUX[*]:+; for the auth and names rows: ${AUX[*]}}"
for t in "${PROXIES[@]}" "${AUX[@]}"; do start_proxy "$t"; done
if [[ " ${TARGETS[*]} " != *" squid-parent "* ]]; then sed -i '/^startup\tsquid-parent\t/d' "$RAW"; fi

# Before the first round every proxy that forwards gets the same settling load once: forwarded GETs, then new tunnels.
# The JIT build's tiered compilation goes on for about 20 s of load (docs/benchmarks.md, issue 15's sixth round), and
# a round measured while it compiles is a start-up figure, not the steady state a long-running proxy serves in. The
# compiled peers and the AOT build get the same load and lose nothing by it.
settle() {  # target
  local t=$1
  timeout $((SETTLE_SECS + 20)) wrk -t2 -c50 -d"${SETTLE_SECS}s" -s "$WORK/abs.lua" "$(proxy_url "$t")" >/dev/null 2>&1 || true
  timeout $((SETTLE_SECS + 30)) "$BENCH/out/bin/tunnels" 127.0.0.1 "${PORT[$t]}" 127.0.0.1 $ORIGIN_HTTP /1k 16 \
    "$TUNNEL_COUNT" "$SETTLE_SECS" >/dev/null 2>&1 || true
}
if [[ $ONLY != parent && $ONLY != inspect ]]; then
  for t in "${PROXIES[@]}"; do
    if runs_workload fwd1k "$t" && runs_workload newtunnels "$t"; then log "settling $t (${SETTLE_SECS}s of forwarded GETs, ${SETTLE_SECS}s of new tunnels)"; settle "$t"; fi
  done
fi

rotate() { local n=$1; shift; local a=("$@"); local k=$(( n % ${#a[@]} )); echo "${a[@]:k}" "${a[@]:0:k}"; }
WORKLOADS=(fwd1k)
[[ $C500 == 1 ]] && WORKLOADS+=(fwd1k_c500)
WORKLOADS+=(connect_dl connect_plain fwd_dl fwd_ul tunnel_ul newtunnels)
[[ $AUTH == 1 ]] && WORKLOADS+=(auth)
[[ $NAMES == 1 ]] && WORKLOADS+=(names)
[[ $ONLY == parent ]] && WORKLOADS=("${PARENT_WORKLOADS[@]}")
[[ $ONLY == inspect ]] && WORKLOADS=()
[[ $INSPECT == 1 ]] && WORKLOADS+=("${INSPECT_WORKLOADS[@]}")
for rep in $(seq "$REPS"); do
  for w in "${WORKLOADS[@]}"; do
    log "rep $rep/$REPS: $w (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    record load - "$rep" load1 "$(cut -d' ' -f1 /proc/loadavg)" "$w"
    for t in $(rotate "$rep" "${TARGETS[@]}"); do if runs_workload "$w" "$t"; then "w_$w" "$t" "$rep"; fi; done
  done
done

for t in "${AUX[@]}"; do stop_proxy "$t"; done
if [[ $ONLY != parent && $ONLY != inspect ]]; then
  if [[ $TLS == 1 ]]; then
    # the TLS listener: Sluice's listeners[].tls, Traffic Server's ssl port and httpd's SSL virtual host are in their
    # configs from the start; Squid is restarted with its https_port variant. tinyproxy has no TLS listener.
    TLS_TARGETS=(sluice); [[ $ONLY == all ]] && TLS_TARGETS=(direct sluice); [[ $AOT == 1 ]] && TLS_TARGETS+=(sluice-aot)
    if [[ $ONLY == all ]]; then for p in "${PEERS[@]}"; do [[ $p == tinyproxy ]] || TLS_TARGETS+=("$p"); done; fi
    if [[ " ${TLS_TARGETS[*]} " == *" squid "* ]]; then
      log "TLS listener: Squid restarted with its https_port variant"; stop_proxy squid; start_proxy squid "$WORK/squid-tls.conf"
    fi
    for rep in $(seq "$REPS"); do
      log "rep $rep/$REPS: tls_dl"
      for t in $(rotate "$rep" "${TLS_TARGETS[@]}"); do w_tls_dl "$t" "$rep"; done
    done
    if [[ " ${TLS_TARGETS[*]} " == *" squid "* ]]; then stop_proxy squid; start_proxy squid; fi
  fi

  if [[ $IDLE == 1 ]]; then
    for rep in $(seq "$IDLE_REPS"); do
      log "rep $rep/$IDLE_REPS: $IDLE_COUNT idle tunnels"
      for t in "${PROXIES[@]}"; do if ! is_parent_row "$t" && ! is_inspect_row "$t"; then w_idle "$t" "$rep"; fi; done
    done
  fi

  if [[ $SOAK == 1 ]]; then
    # memory: a fresh process of each Sluice build, RSS after start, the peak under a mixed load, and RSS after it
    log "soak: ${SOAK_SECS}s mixed load per Sluice build, RSS ${SOAK_AFTER}s after (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    for t in "${PROXIES[@]}"; do if [[ $t == sluice || $t == sluice-aot ]]; then w_soak "$t"; fi; done
  fi
fi
for t in "${PROXIES[@]}"; do stop_proxy "$t"; done
[[ -n ${PID[dnsmasq]:-} ]] && stop_proxy dnsmasq

BDN_CSV=""
if [[ $POLICY == 1 ]]; then
  log "policy: BenchmarkDotNet (bench/Sluice.Bench)"
  rm -rf "$OUT/bdn"
  if dotnet build "$BENCH/Sluice.Bench" -c Release --artifacts-path "$ART/bdn" >"$LOGS/build-bdn.log" 2>&1 &&
     timeout 1200 dotnet "$ART/bdn/bin/Sluice.Bench/release/Sluice.Bench.dll" "${BDN_ARGS[@]}" --artifacts "$OUT/bdn" \
       >"$LOGS/bdn.log" 2>&1; then
    BDN_CSV=$(ls "$OUT"/bdn/results/*-report.csv | head -1)
    dotnet "$ART/bdn/bin/Sluice.Bench/release/Sluice.Bench.dll" --build-times 2>/dev/null \
      | awk -F'\t' '$1 == "build" {printf "policy_build\tsluice\t1\tms_%s\t%s\n", $2, $3 + $4}' >>"$RAW" || true
  else
    log "BenchmarkDotNet failed, see $LOGS/bdn.log"
  fi
fi

# In --only sluice mode the other targets' rows come from the previous run of this mode.
if [[ $ONLY == sluice ]]; then
  prev=$OUT/raw.previous.tsv
  [[ -f $BENCH/out/$MODE/raw.all.tsv ]] && prev=$BENCH/out/$MODE/raw.all.tsv
  if [[ -f $prev ]]; then
    awk -F'\t' -v measured=" ${TARGETS[*]} " '$1 != "load" && $2 != "sluice" && $2 != "sluice-aot" && index(measured, " " $2 " ") == 0' "$prev" >>"$RAW"
    log "direct/Squid/tinyproxy rows taken from $prev"
  else
    log "no previous run of mode $MODE to take direct/Squid/tinyproxy rows from"
  fi
elif [[ $ONLY == all ]]; then
  cp "$RAW" "$OUT/raw.all.tsv"
fi

# ---------------------------------------------------------------- 6. report
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
cat >"$OUT/meta.env" <<EOF
mode=$MODE
only=$ONLY
date=$(date -u +%Y-%m-%dT%H:%MZ)
commit=$COMMIT
machine=$(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r), open-file limit $FD_LIMIT
versions=Traffic Server $(traffic_server -V 2>&1 | awk '/^Traffic Server/ {print $3; exit}'); Squid $(squid -v | awk 'NR==1 {print $4}'); httpd $(apache2 -v | awk -F'[/ ]' 'NR==1 {print $4}'); tinyproxy $(tinyproxy -v | awk '{print $2}'); nginx $(nginx -v 2>&1 | cut -d/ -f2); wrk $( (wrk -v 2>&1 || true) | awk 'NR==1 {print $2}'); curl $(curl -V | awk 'NR==1 {print $2}'); .NET SDK $(dotnet --version), runtime $(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}'); Python $(python3 -c 'import sys; print(sys.version.split()[0])')
aot=$AOT_STATUS
load_start=$LOAD_START
load_end=$(cut -d' ' -f1 /proc/loadavg)
steal=$(cpu_jiffies | awk -v start="$STEAL_START" 'BEGIN { split(start, a, " ") } { d = $2 - a[2]; printf "%.1f", (d > 0 ? 100 * ($1 - a[1]) / d : 0) }')
reps=$REPS
idle_reps=$IDLE_REPS
wrk_secs=$WRK_SECS
big=$BIG_LABEL
tunnel_count=$TUNNEL_COUNT
idle_count=$IDLE_COUNT
warm_secs=$WARM_SECS
settle_secs=$SETTLE_SECS
tunnel_secs=$TUNNEL_SECS
inspect=$INSPECT
peers=${PEERS[*]}
auth=$AUTH_STATUS
names=$NAMES_STATUS
soak_secs=$SOAK_SECS
soak_after=$SOAK_AFTER
versions_inspect=$([[ -x $SQUID_SSL/usr/sbin/squid ]] && echo "Squid ssl_bump: squid-openssl $(cat "$SQUID_SSL/version" 2>/dev/null) ($("$SQUID_SSL/usr/sbin/squid" -v | grep -oE 'OpenSSL [0-9.]+' | head -1)), unpacked, not installed; ")Sluice on .NET $(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}') ($(openssl version | awk '{print $1, $2}') on this system)
EOF
report_args=(--raw "$RAW" --meta "$OUT/meta.env" --table "$OUT/table.md" --png "$OUT/benchmarks.png")
[[ $ONLY == parent ]] && report_args+=(--part parent)
[[ $ONLY == inspect ]] && report_args+=(--part inspect)
[[ -n $BDN_CSV ]] && report_args+=(--bdn "$BDN_CSV")
[[ $DOCS == yes ]] && report_args+=(--docs "$REPO/docs/benchmarks.md" --docs-png "$REPO/docs/benchmarks.png")
$PY "$BENCH/tools/report.py" "${report_args[@]}"
if [[ $ONLY == parent || $ONLY == inspect ]]; then
  log "done: table in $OUT/table.md$([[ $DOCS == yes ]] && echo ", $ONLY row of docs/benchmarks.md updated")"
else
  log "done: table in $OUT/table.md, chart in $OUT/benchmarks.png$([[ $DOCS == yes ]] && echo ', docs/benchmarks.md updated')"
fi
