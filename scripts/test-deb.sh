#!/usr/bin/env bash
# The Debian package, installed on this machine and run from its installed commands only:
#   npm run test:deb [-- DEB] [--keep]      (as root; about a minute with the build)
# 1. builds dist/hapg_<version>_all.deb (npm run package:deb) unless DEB is given, then
#    `apt-get install ./hapg_<version>_all.deb` (timed)
# 2. the installed files: /usr/bin/hapg, hactl, hapg-fence; the unit (`systemd-analyze verify`);
#    the example conffile validates; the modes of /etc/hapg and /var/lib/hapg; no dev dependency,
#    no testkit, and no test, source or map file of hapg's own in /usr/lib/hapg
# 3. etcd and 3 agents as the postgres user on 127.0.0.1 (free ports, configs in a temp dir):
#    one leader and two streaming replicas in `hactl list`; a row written on the leader is read
#    back on both replicas
# 4. an agent crash as the unit's KillMode=process leaves it: SIGKILL of the leader's agent only.
#    Its Postgres and its fence keep running; the agent started again after 2 s (as
#    Restart=on-failure, RestartSec=2s would) adopts both: same leader, same timeline, same fence
#    after the old lease has expired. Then SIGHUP to a replica's agent (what ExecReload sends): it
#    handles it, or it ends by the signal and, restarted as the unit would, adopts its Postgres
# 5. SIGTERM to every agent (systemctl stop): each exits 0 and leaves no Postgres and no fence
# 6. `npm install -g` of dist/hapg-<version>.tgz, offline, gives working commands (when present)
# 7. `dpkg -r hapg` keeps /etc/hapg/example.yaml, `dpkg -P hapg` removes it (skipped with --keep)
# Steps 3-5 start a cluster: the script holds /tmp/hapg-it.lock from step 1 on.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -*) echo "usage: $0 [DEB] [--keep]" >&2; exit 2 ;;
    *) deb=$arg ;;
  esac
done
TAG=test-deb
# shellcheck source=scripts/lib/deb-test.sh
source scripts/lib/deb-test.sh
[ "$(id -u)" = 0 ] || fail "run as root (apt-get install, agents as the postgres user)"

if [ -z "${HAPG_IT_LOCK_HELD:-}" ]; then
  if [ -z "$deb" ]; then
    bash scripts/package-deb.sh
    version=$(node packages/agent/dist/main.js --version | awk '{ print $2 }')
    deb=dist/hapg_${version}_all.deb
  fi
  deb=$(realpath "$deb")
  log "waiting for /tmp/hapg-it.lock"
  HAPG_IT_LOCK_HELD=1 exec flock /tmp/hapg-it.lock bash "$0" "$deb" "$@"
fi
deb=$(realpath "$deb")
version=$(dpkg-deb -f "$deb" Version)
lib=/usr/lib/hapg

# --- 1. install ---------------------------------------------------------------------------------
t0=$(date +%s.%N)
T=$(mktemp -d /tmp/hapg-deb.XXXXXX)
chmod 0755 "$T"
agent_pids=()
etcd_pid=
cleanup() {
  set +e
  for p in "${agent_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${agent_pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  # whatever is left of this run (Postgres, fences) is found by the run's own directory
  for p in $(pgrep -f "$T/") ${etcd_pid}; do kill -KILL "$p" 2>/dev/null; done
  [ -z "$etcd_pid" ] || wait "$etcd_pid" 2>/dev/null
  sleep 0.5
  if [ "${HAPG_KEEP_TEST_DIRS:-}" = 1 ]; then log "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --reinstall "$deb" >"$T/apt.log" 2>&1 ||
  fail "apt-get install: $(tail -5 "$T/apt.log")"
install_s=$(since "$t0")
log "installed $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in ${install_s} s"

# --- 2. installed files -------------------------------------------------------------------------
[ "$(hapg --version)" = "hapg $version" ] || fail "hapg --version: $(hapg --version)"
[ "$(hactl --version)" = "hactl $version" ] || fail "hactl --version: $(hactl --version)"
set +e
hapg-fence >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "hapg-fence without arguments exited $rc, not 2 (usage)"
hapg --validate-config /etc/hapg/example.yaml >/dev/null || fail "/etc/hapg/example.yaml does not validate"
dpkg-query -W -f='${Conffiles}\n' hapg | grep -q '/etc/hapg/example.yaml' || fail "example.yaml is not a conffile"
[ "$(stat -c '%U:%G %a' /etc/hapg)" = "root:postgres 750" ] || fail "/etc/hapg: $(stat -c '%U:%G %a' /etc/hapg)"
[ "$(stat -c '%U:%G' /var/lib/hapg)" = "postgres:postgres" ] || fail "/var/lib/hapg is not owned by postgres"
for dev in typescript vitest @biomejs turbo tsx fast-check @hapg/testkit; do
  [ ! -e "$lib/node_modules/$dev" ] || fail "dev dependency in the package: $dev"
done
if find "$lib/node_modules/@hapg" -name '*.test.js' -o -name '*.ts' -o -name '*.map' | grep -q .; then
  fail "tests, sources or maps under $lib/node_modules/@hapg"
fi
# systemd-analyze verify wants an instance of the template; it also checks that the commands exist.
verify_out=$(systemd-analyze verify /lib/systemd/system/hapg@example.service 2>&1) || fail "systemd-analyze verify: $verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify is not clean: $verify_out"
log "commands, conffile, permissions, no dev dependencies; systemd-analyze verify hapg@.service: clean"

# --- 3. a cluster from the installed commands ---------------------------------------------------

read -r -a ports < <(free_ports 8)
etcd_client=${ports[0]}
etcd_peer=${ports[1]}
mapfile -t etcd_flags < <(etcd_args "$etcd_client" "$etcd_peer")
etcd "${etcd_flags[@]}" --data-dir "$T/etcd" >"$T/etcd.log" 2>&1 &
etcd_pid=$!

for i in 1 2 3; do
  pg_port=${ports[2 * i]}
  rest_port=${ports[2 * i + 1]}
  install -d -o postgres -g postgres -m 0700 "$T/node$i"
  node_yaml debtest "node$i" "$pg_port" "$rest_port" "$etcd_client" "$T/node$i/data" >"$T/node$i.yaml"
  chown root:postgres "$T/node$i.yaml"
  chmod 0640 "$T/node$i.yaml"
done

start_agent() { # as systemd's User=postgres would: the postgres user's environment, cwd /
  (cd / && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres \
    setpriv --reuid postgres --regid postgres --init-groups /usr/bin/hapg --config "$T/node$1.yaml") \
    >>"$T/node$1.log" 2>&1 &
  agent_pids[$1 - 1]=$!
}
# "<leader> <leader's timeline> <streaming replicas>" from `hactl list -o json`
cluster_state() {
  hactl -c "$T/node1.yaml" list -o json 2>/dev/null | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const leaders = rows.filter((r) => r.role === "Leader");
    const streaming = rows.filter((r) => r.role !== "Leader" && r.state === "streaming").length;
    console.log(leaders.length === 1 ? `${leaders[0].member} ${leaders[0].tl} ${streaming}` : `none - ${streaming}`);'
}
wait_for_cluster() { # seconds -> prints the state once there is a leader and two streaming replicas
  local deadline=$(($(date +%s) + $1)) state
  while [ "$(date +%s)" -lt "$deadline" ]; do
    state=$(cluster_state || true)
    if [ "${state##* }" = 2 ] && [ "${state%% *}" != none ]; then echo "$state"; return 0; fi
    sleep 0.5
  done
  hactl -c "$T/node1.yaml" list >&2 || true
  return 1
}
member_port() { grep -A2 '^postgresql:' "$T/$1.yaml" | sed -n 's/.*listen: 127.0.0.1:\([0-9]*\)/\1/p'; }
sql() { PGPASSWORD=debtest-su psql -h 127.0.0.1 -p "$(member_port "$1")" -U postgres -d postgres -Atqc "$2"; }
fence_pid() { pgrep -f "$T/$1/data.fence.sock" || true; }
postmaster_pid() { head -1 "$T/$1/data/postmaster.pid" 2>/dev/null || true; }

t0=$(date +%s.%N)
for i in 1 2 3; do start_agent "$i"; done
state=$(wait_for_cluster 120) || fail "no leader with two streaming replicas within 120 s (logs: $T)"
cluster_s=$(since "$t0")
read -r leader tl _ <<<"$state"
log "cluster up in ${cluster_s} s: leader $leader on timeline $tl, 2 replicas streaming"
hactl -c "$T/node1.yaml" list

sql "$leader" "CREATE TABLE deb_check (id int PRIMARY KEY); INSERT INTO deb_check VALUES (1), (2), (3);"
for n in node1 node2 node3; do
  [ "$n" = "$leader" ] && continue
  rows=
  for _ in $(seq 1 40); do
    rows=$(sql "$n" "SELECT count(*) FROM deb_check" 2>/dev/null || true)
    [ "$rows" = 3 ] && break
    sleep 0.25
  done
  [ "$rows" = 3 ] || fail "$n does not have the leader's rows (got '$rows')"
done
log "a write on $leader is on both replicas"

# --- 4. the agent crashes; Postgres and the fence stay (KillMode=process) ------------------------
i=${leader#node}
fence_before=$(fence_pid "$leader")
pm_before=$(postmaster_pid "$leader")
[ -n "$fence_before" ] || fail "no fence running for the leader $leader"
kill -KILL "${agent_pids[$i - 1]}"
wait "${agent_pids[$i - 1]}" 2>/dev/null || true
kill -0 "$pm_before" 2>/dev/null || fail "the leader's Postgres died with its agent"
[ "$(fence_pid "$leader")" = "$fence_before" ] || fail "the leader's fence died with its agent"
t1=$(date +%s.%N)
sleep 2
start_agent "$i"
# The old agent's member and leader keys stay until its lease expires (ttl 10 s), so `hactl list`
# alone proves nothing yet: wait for the new agent's own /primary, then past the old lease.
rest_port=${ports[2 * i + 1]}
code=
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rest_port/primary" || true)
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || fail "the restarted agent of $leader does not answer /primary with 200 (got '$code')"
adopt_s=$(since "$t1")
sleep $((12 - ${adopt_s%.*} > 0 ? 12 - ${adopt_s%.*} : 0))
state=$(wait_for_cluster 30) || fail "no cluster after restarting $leader's agent"
read -r leader2 tl2 _ <<<"$state"
if [ "$leader2" != "$leader" ] || [ "$tl2" != "$tl" ]; then
  fail "after the agent restart: leader $leader2 on timeline $tl2 (was $leader on $tl): a failover happened"
fi
[ "$(postmaster_pid "$leader")" = "$pm_before" ] || fail "the restarted agent did not adopt the running Postgres"
[ "$(fence_pid "$leader")" = "$fence_before" ] || fail "the restarted agent did not adopt the running fence"
sql "$leader" "INSERT INTO deb_check VALUES (4)" || fail "the leader takes no writes after its agent restarted"
log "agent SIGKILLed, restarted 2 s later: $leader primary again ${adopt_s} s after the kill, still the leader on timeline $tl after the old lease expired, same Postgres and fence"

# --- 4b. what `systemctl reload` does today: SIGHUP to a replica's agent ----------------------
# ExecReload sends SIGHUP. An agent without a SIGHUP handler ends by the signal, and the unit's
# RestartForceExitStatus=SIGHUP starts it again; its Postgres must keep running meanwhile.
r=$([ "$leader" = node1 ] && echo 2 || echo 1)
pm_replica=$(postmaster_pid "node$r")
kill -HUP "${agent_pids[$r - 1]}"
sleep 1
if kill -0 "${agent_pids[$r - 1]}" 2>/dev/null; then
  log "SIGHUP: node$r's agent handles it and keeps running"
else
  set +e
  wait "${agent_pids[$r - 1]}" 2>/dev/null
  rc=$?
  set -e
  [ "$rc" = 129 ] || fail "node$r's agent exited $rc after SIGHUP"
  kill -0 "$pm_replica" 2>/dev/null || fail "node$r's Postgres died with its agent on SIGHUP"
  start_agent "$r"
  code=
  for _ in $(seq 1 60); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ports[2 * r + 1]}/replica" || true)
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || fail "node$r's restarted agent does not answer /replica with 200 (got '$code')"
  [ "$(postmaster_pid "node$r")" = "$pm_replica" ] || fail "node$r's restarted agent did not adopt its Postgres"
  log "SIGHUP: node$r's agent ended by the signal (no handler yet; the unit restarts it), its Postgres kept running and was adopted"
fi

# --- 5. orderly stop ----------------------------------------------------------------------------
for p in "${agent_pids[@]}"; do kill -TERM "$p"; done
for i in 1 2 3; do
  set +e
  wait "${agent_pids[$i - 1]}"
  rc=$?
  set -e
  [ "$rc" = 0 ] || fail "node$i's agent exited $rc after SIGTERM (log: $T/node$i.log)"
done
agent_pids=()
sleep 0.5
left=$(pgrep -af "$T/node" || true)
[ -z "$left" ] || fail "left running after SIGTERM to the agents: $left"
log "SIGTERM: every agent exited 0, no Postgres or fence left"

# --- 6. the npm tarball -------------------------------------------------------------------------
tgz=$(dirname "$deb")/hapg-$version.tgz
if [ -f "$tgz" ]; then
  npm install -g --offline --no-audit --no-fund --loglevel=error --prefix "$T/npm" "$tgz" >/dev/null
  [ "$("$T/npm/bin/hapg" --version)" = "hapg $version" ] || fail "hapg from the npm tarball"
  [ "$("$T/npm/bin/hactl" --version)" = "hactl $version" ] || fail "hactl from the npm tarball"
  [ -x "$T/npm/bin/hapg-fence" ] || fail "no hapg-fence from the npm tarball"
  log "npm install -g --offline $(basename "$tgz"): hapg, hactl, hapg-fence work"
fi

# --- 7. remove, purge ---------------------------------------------------------------------------
if [ "$keep" = 0 ]; then
  dpkg -r hapg >/dev/null
  for f in /usr/bin/hapg /usr/bin/hactl /usr/bin/hapg-fence "$lib" /lib/systemd/system/hapg@.service; do
    [ ! -e "$f" ] || fail "dpkg -r left $f behind"
  done
  [ -f /etc/hapg/example.yaml ] || fail "dpkg -r removed the conffile"
  dpkg -P hapg >/dev/null
  [ ! -e /etc/hapg/example.yaml ] || fail "dpkg -P kept the conffile"
  log "dpkg -r: commands and unit gone, conffile kept; dpkg -P: conffile gone"
fi
log "ok: package $(du -k "$deb" | cut -f1) KiB, install ${install_s} s, cluster ${cluster_s} s, agent SIGKILL to primary again ${adopt_s} s (no failover)"
