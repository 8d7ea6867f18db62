#!/usr/bin/env bash
# hapg@.service under a real systemd: the Debian package installed in a Debian bookworm container
# booted with systemd-nspawn (for machines whose PID 1 is not systemd, like the one this was written
# on), a 3-node cluster of hapg@n1..n3 on the host's loopback:
#   npm run test:deb:systemd [-- DEB]     (root; about a minute; the first run also builds the image,
#                                          about 1 minute, plus 4 to repack the host's nodejs)
# 1. the package installs with systemd running (postinst daemon-reload), the unit verifies
# 2. systemctl start hapg@n1 hapg@n2 hapg@n3: a leader and two streaming replicas (hactl list)
# 3. an agent crash (SIGKILL of the leader's main process only): Restart=on-failure starts it again;
#    KillMode=process kept its Postgres and its fence, which it adopts: no failover
# 4. systemctl reload: a file that does not validate is refused and the agent is untouched;
#    a valid one sends SIGHUP (handled, or the agent ends and RestartForceExitStatus restarts it
#    with its Postgres still running)
# 5. systemctl stop of a replica leaves nothing in its cgroup; it rejoins after start
# 6. why not the other KillModes, shown: with control-group, `systemctl stop` of the leader makes
#    its fence fire (SIGTERM reaches it with the agent); with mixed, an agent crash takes the
#    replica's Postgres down with it
# 7. dpkg -r with the units running stops them (prerm), and nothing is left
# The image (debootstrapped bookworm + systemd, postgresql-15, etcd-server, this machine's nodejs
# repacked) is cached in /var/tmp/hapg-nspawn/; each run boots a copy of it.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-}
TAG=test-deb-systemd
# shellcheck source=scripts/lib/deb-test.sh
source scripts/lib/deb-test.sh
[ "$(id -u)" = 0 ] || fail "run as root"

if [ -z "${HAPG_IT_LOCK_HELD:-}" ]; then
  if [ -z "$deb" ]; then
    bash scripts/package-deb.sh
    deb=dist/hapg_$(node packages/agent/dist/main.js --version | awk '{ print $2 }')_all.deb
  fi
  deb=$(realpath "$deb")
  missing=()
  command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v dpkg-repack >/dev/null || missing+=(dpkg-repack)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi

  # --- the image (no cluster yet: built before taking the lock) ---------------------------------
  cache=/var/tmp/hapg-nspawn
  if [ ! -f "$cache/image.ok" ]; then
    rm -rf "$cache/rootfs"
    mkdir -p "$cache"
    node_deb=$(find "$cache" -maxdepth 1 -name 'nodejs_*.deb' | head -1)
    if [ -z "$node_deb" ]; then
      node_version=$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null || true)
      dpkg --compare-versions "${node_version:-0}" ge 20 || fail "the host's nodejs package is not >= 20"
      log "repacking the host's nodejs $node_version (its repository is not reachable; about 4 min)"
      (cd "$cache" && dpkg-repack nodejs >/dev/null 2>&1)
      node_deb=$(find "$cache" -maxdepth 1 -name 'nodejs_*.deb' | head -1)
    fi
    log "building the image (mmdebstrap bookworm)"
    mmdebstrap --variant=minbase --mode=root \
      --include=systemd,systemd-sysv,dbus,procps,curl,adduser,python3,ca-certificates,postgresql-15,postgresql-client-15,etcd-server \
      --essential-hook='mkdir -p "$1/etc/postgresql-common"; echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.conf"' \
      --customize-hook="copy-in $node_deb /root" \
      --customize-hook="chroot \"\$1\" dpkg -i /root/$(basename "$node_deb")" \
      --customize-hook='rm -f "$1"/root/*.deb; echo hapgtest >"$1/etc/hostname"; chroot "$1" systemctl mask etcd.service postgresql.service' \
      bookworm "$cache/rootfs" http://deb.debian.org/debian >"$cache/mmdebstrap.log" 2>&1 ||
      fail "mmdebstrap failed: $cache/mmdebstrap.log"
    touch "$cache/image.ok"
  fi
  log "waiting for /tmp/hapg-it.lock"
  HAPG_IT_LOCK_HELD=1 exec flock /tmp/hapg-it.lock bash "$0" "$deb"
fi
deb=$(realpath "$deb")
cache=/var/tmp/hapg-nspawn

# --- boot a copy of the image ---------------------------------------------------------------------
run=$(mktemp -d /var/tmp/hapg-nspawn-run.XXXXXX)
root=$run/rootfs
nspawn_pid=
init_pid=
cleanup() {
  set +e
  if [ -n "$init_pid" ] && kill -0 "$init_pid" 2>/dev/null; then
    nsenter -t "$init_pid" -a systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 1 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  [ -z "$nspawn_pid" ] || kill -KILL "$nspawn_pid" 2>/dev/null
  sleep 0.5
  if [ "${HAPG_KEEP_TEST_DIRS:-}" = 1 ]; then log "kept $run"; else rm -rf "$run"; fi
}
trap cleanup EXIT
cp -a "$cache/rootfs" "$root"
cp "$deb" "$root/root/"
setsid systemd-nspawn -q --keep-unit --register=no -D "$root" --boot >"$run/console.log" 2>&1 </dev/null &
nspawn_pid=$!
for _ in $(seq 1 100); do
  init_pid=$(pgrep -P "$nspawn_pid" | head -1 || true)
  [ -n "$init_pid" ] && break
  sleep 0.1
done
[ -n "$init_pid" ] || fail "systemd-nspawn did not start (console: $run/console.log)"
ct() { nsenter -t "$init_pid" -a "$@"; }
booted=
for _ in $(seq 1 300); do
  booted=$(ct systemctl is-system-running 2>/dev/null || true)
  case "$booted" in running | degraded) break ;; esac
  sleep 0.2
done
case "$booted" in running | degraded) ;; *) fail "the container did not boot: '$booted' ($run/console.log)" ;; esac
log "container booted, systemd $(ct systemctl --version | head -1 | awk '{ print $2 }') as its PID 1"

# --- 1. install ----------------------------------------------------------------------------------
t0=$(date +%s.%N)
ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "/root/$(basename "$deb")" >"$run/apt.log" 2>&1 ||
  fail "apt-get install in the container: $(tail -5 "$run/apt.log")"
log "apt-get install $(basename "$deb") with systemd running: $(since "$t0") s"
out=$(ct systemd-analyze verify hapg@n1.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify is not clean: $out"

# --- 2. three instances --------------------------------------------------------------------------
read -r -a ports < <(free_ports 8)
etcd_client=${ports[0]}
etcd_peer=${ports[1]}
mapfile -t etcd_flags < <(etcd_args "$etcd_client" "$etcd_peer")
ct systemd-run -q --unit=test-etcd /usr/bin/etcd "${etcd_flags[@]}" --data-dir /var/lib/test-etcd
for i in 1 2 3; do
  node_yaml nspawn "n$i" "${ports[2 * i]}" "${ports[2 * i + 1]}" "$etcd_client" "/var/lib/hapg/n$i/data" >"$root/etc/hapg/n$i.yaml"
  ct chown root:postgres "/etc/hapg/n$i.yaml"
  ct chmod 0640 "/etc/hapg/n$i.yaml"
  ct install -d -o postgres -g postgres -m 0700 "/var/lib/hapg/n$i"
done

rest() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ports[2 * ${1#n} + 1]}$2" || true; }
wait_rest() { # member path code seconds
  local deadline=$(($(date +%s) + $4))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(rest "$1" "$2")" = "$3" ] && return 0
    sleep 0.25
  done
  return 1
}
cluster_state() { # "<leader> <timeline> <streaming replicas>"
  ct hactl -c /etc/hapg/n1.yaml list -o json 2>/dev/null | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const leaders = rows.filter((r) => r.role === "Leader");
    const streaming = rows.filter((r) => r.role !== "Leader" && r.state === "streaming").length;
    console.log(leaders.length === 1 ? `${leaders[0].member} ${leaders[0].tl} ${streaming}` : `none - ${streaming}`);'
}
wait_for_cluster() {
  local deadline=$(($(date +%s) + $1)) state
  while [ "$(date +%s)" -lt "$deadline" ]; do
    state=$(cluster_state || true)
    if [ "${state##* }" = 2 ] && [ "${state%% *}" != none ]; then echo "$state"; return 0; fi
    sleep 0.5
  done
  ct hactl -c /etc/hapg/n1.yaml list >&2 || true
  return 1
}
prop() { ct systemctl show -p "$2" --value "hapg@$1.service"; }
postmaster_pid() { head -1 "$root/var/lib/hapg/$1/data/postmaster.pid" 2>/dev/null || true; }
fence_pid() { ct pgrep -f "/var/lib/hapg/$1/data.fence.sock" || true; }
others() { for n in n1 n2 n3; do [ "$n" = "$1" ] || echo "$n"; done; }

t0=$(date +%s.%N)
ct systemctl start hapg@n1 hapg@n2 hapg@n3
state=$(wait_for_cluster 120) || fail "no leader with two streaming replicas within 120 s"
read -r leader tl _ <<<"$state"
log "systemctl start hapg@n1 hapg@n2 hapg@n3: leader $leader (timeline $tl) and 2 streaming replicas in $(since "$t0") s"
ct hactl -c /etc/hapg/n1.yaml list

# --- 3. the leader's agent crashes -----------------------------------------------------------------
pm=$(postmaster_pid "$leader")
fence=$(fence_pid "$leader")
main=$(prop "$leader" MainPID)
[ -n "$fence" ] || fail "no fence for the leader $leader"
t0=$(date +%s.%N)
ct systemctl kill -s SIGKILL --kill-whom=main "hapg@$leader"
sleep 0.5
[ "$(rest "$leader" /primary)" = 000 ] || fail "the leader's REST API still answers after its agent was SIGKILLed"
wait_rest "$leader" /primary 200 30 || fail "the restarted agent of $leader is not primary"
back_s=$(since "$t0")
[ "$(prop "$leader" NRestarts)" = 1 ] || fail "hapg@$leader: NRestarts $(prop "$leader" NRestarts), not 1"
[ "$(prop "$leader" MainPID)" != "$main" ] || fail "hapg@$leader has the same main pid"
sleep 12 # past the old agent's lease
state=$(wait_for_cluster 30) || fail "no cluster after the agent crash"
read -r leader2 tl2 _ <<<"$state"
if [ "$leader2" != "$leader" ] || [ "$tl2" != "$tl" ]; then fail "a failover happened: $leader2 on timeline $tl2"; fi
[ "$(postmaster_pid "$leader")" = "$pm" ] || fail "Postgres of $leader was restarted"
[ "$(fence_pid "$leader")" = "$fence" ] || fail "the fence of $leader was replaced"
log "agent SIGKILLed: systemd restarted it, primary again after ${back_s} s, same Postgres and fence, no failover"

# --- 4. reload -------------------------------------------------------------------------------------
replica=$(others "$leader" | head -1)
main=$(prop "$replica" MainPID)
restarts=$(prop "$replica" NRestarts)
cp "$root/etc/hapg/$replica.yaml" "$run/good.yaml"
echo 'ttl_typo: 1' >>"$root/etc/hapg/$replica.yaml"
if ct systemctl reload "hapg@$replica" 2>/dev/null; then fail "reload with an invalid file succeeded"; fi
sleep 1
[ "$(prop "$replica" MainPID)" = "$main" ] || fail "a refused reload touched the agent"
cp "$run/good.yaml" "$root/etc/hapg/$replica.yaml"
log "systemctl reload with an invalid file: refused, agent untouched"
pm=$(postmaster_pid "$replica")
reload_rc=0
ct systemctl reload "hapg@$replica" 2>"$run/reload.err" || reload_rc=$?
sleep 3
if [ "$(prop "$replica" MainPID)" = "$main" ]; then
  log "systemctl reload: the agent handled SIGHUP"
else
  [ "$(prop "$replica" NRestarts)" = $((restarts + 1)) ] || fail "after SIGHUP the agent was not restarted"
  wait_rest "$replica" /replica 200 30 || fail "$replica is no replica after the reload"
  [ "$(postmaster_pid "$replica")" = "$pm" ] || fail "the reload restarted $replica's Postgres"
  log "systemctl reload (exit $reload_rc): SIGHUP ended the agent (no handler yet), RestartForceExitStatus restarted it, same Postgres"
fi

# --- 5. orderly stop of a replica ------------------------------------------------------------------
ct systemctl stop "hapg@$replica"
[ "$(prop "$replica" ActiveState)" = inactive ] || fail "hapg@$replica is not inactive after stop"
left=$(ct pgrep -af "/var/lib/hapg/$replica/" || true)
[ -z "$left" ] || fail "left after systemctl stop: $left"
ct systemctl start "hapg@$replica"
wait_for_cluster 60 >/dev/null || fail "$replica did not rejoin"
log "systemctl stop: nothing left of hapg@$replica; it rejoined after start"

# --- 6. the other KillModes ------------------------------------------------------------------------
dropin() { # member mode|""
  if [ -z "$2" ]; then
    rm -rf "$root/etc/systemd/system/hapg@$1.service.d"
  else
    mkdir -p "$root/etc/systemd/system/hapg@$1.service.d"
    printf '[Service]\nKillMode=%s\n' "$2" >"$root/etc/systemd/system/hapg@$1.service.d/killmode.conf"
  fi
  ct systemctl daemon-reload
}
other=$(others "$leader" | tail -1)
pm=$(postmaster_pid "$other")
dropin "$other" mixed
ct systemctl kill -s SIGKILL --kill-whom=main "hapg@$other"
sleep 1
if ct kill -0 "$pm" 2>/dev/null; then fail "KillMode=mixed: $other's Postgres survived its agent"; fi
dropin "$other" ""
wait_for_cluster 60 >/dev/null || fail "$other did not come back after the mixed-mode crash"
log "KillMode=mixed: the agent's crash took $other's Postgres down with it (systemd SIGKILLed the cgroup)"

fence_log=$root/var/lib/hapg/$leader/data.fence.log
fired_before=$(grep -c 'fence fired' "$fence_log" || true)
dropin "$leader" control-group
ct systemctl stop "hapg@$leader"
fired=0
for _ in $(seq 1 20); do
  fired=$(grep -c 'fence fired' "$fence_log" || true)
  [ "$fired" -gt "$fired_before" ] && break
  sleep 0.1
done
[ "$fired" -gt "$fired_before" ] || fail "KillMode=control-group: the fence did not fire on systemctl stop"
dropin "$leader" ""
log "KillMode=control-group: systemctl stop of the leader made its fence fire (SIGKILL of the primary)"
ct systemctl start "hapg@$leader"
state=$(wait_for_cluster 120) || fail "the cluster did not converge after the control-group stop"
read -r leader3 tl3 _ <<<"$state"
if [ "$leader3" = "$leader" ]; then who="$leader leads again"; else who="$leader rejoined as a replica"; fi
log "after it: leader $leader3 on timeline $tl3 and 2 streaming replicas ($who)"

# --- 7. removal with the units running -------------------------------------------------------------
ct env DEBIAN_FRONTEND=noninteractive dpkg -r hapg >"$run/dpkg-r.log" 2>&1 || fail "dpkg -r: $(tail -3 "$run/dpkg-r.log")"
left=$(ct pgrep -af '/var/lib/hapg/|hapg --config' || true)
[ -z "$left" ] || fail "left running after dpkg -r: $left"
log "dpkg -r with three units running: prerm stopped them, nothing left"
log "ok"
