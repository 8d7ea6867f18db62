#!/usr/bin/env bash
# The container image and the Compose stack, run here with podman (root):
#   npm run test:containers [-- --no-package]     (by hand, not in npm test; about 2 minutes,
#                                                  the first run also makes the base image)
# 0. installs podman, runc and podman-compose (Debian) if missing, and the containers.conf that
#    Debian's podman 4.3 needs here (runc; lower default ulimits), without touching other settings
# 1. a local Debian bookworm base image (mmdebstrap minbase -> podman import, cached in
#    /var/tmp/hapg-containers), since no image registry is reachable; `hapg:local` built from
#    deploy/docker/Dockerfile on it (npm run package:deb, then deploy/docker/stage.sh), and an
#    etcd + HAProxy image from Debian's packages (deploy/docker/services.Dockerfile)
# 2. deploy/compose/compose.yml up with podman-compose: 3 etcd, 3 hapg, HAProxy (two adjustments
#    for podman-compose 1.0.3, below)
# 3. three members: one leader and two streaming replicas (hactl list inside a container), every
#    node's image health check (/liveness) passing; a write through HAProxy's primary port
# 4. SIGKILL of the leader's container: a new leader, and writes through HAProxy resume
# 5. the old leader's container started again: it rejoins as a streaming replica of the new one
# 6. everything torn down (containers, volumes, network), also on failure
# Timings are printed as it goes and summed up at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[test-containers] %s\n' "$*"; }
fail() { printf '[test-containers] FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v t0="$1" -v t1="$(now)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
[ "$(id -u)" = 0 ] || fail "run as root (podman root containers)"

cache=/var/tmp/hapg-containers
base=localhost/hapg-base:bookworm
services=localhost/hapg-services:local
summary=${HAPG_CT_SUMMARY:-$(mktemp /tmp/hapg-containers-summary.XXXXXX)}

if [ -z "${HAPG_IT_LOCK_HELD:-}" ]; then
  package=1
  for arg in "$@"; do
    case "$arg" in
      --no-package) package=0 ;;
      *) fail "usage: $0 [--no-package]" ;;
    esac
  done
  # --- 0. tools ---------------------------------------------------------------------------------
  missing=()
  for tool in podman:podman runc:runc podman-compose:podman-compose mmdebstrap:mmdebstrap; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # Debian's podman 4.3 here: crun fails on the hybrid cgroup layout, and the default ulimits are
  # refused (setrlimit: Operation not permitted). Add the two settings only where they are absent.
  conf=/etc/containers/containers.conf
  mkdir -p /etc/containers
  touch "$conf"
  # conf_set SECTION KEY LINE: add LINE under [SECTION] unless KEY is set already
  conf_set() {
    grep -q "^[[:space:]]*$2[[:space:]]*=" "$conf" && return 0
    if grep -q "^\[$1\]" "$conf"; then
      sed -i "/^\[$1\]/a $3" "$conf"
    else
      printf '\n[%s]\n%s\n' "$1" "$3" >>"$conf"
    fi
    log "$conf: $3"
  }
  conf_set containers default_ulimits 'default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]'
  conf_set engine runtime 'runtime = "runc"'

  # --- 1. images (no containers with Postgres yet: before the lock) ------------------------------
  if ! podman image exists "$base"; then
    t=$(now)
    if [ ! -f "$cache/bookworm-minbase.tar" ]; then
      log "making the base image (mmdebstrap bookworm minbase)"
      mkdir -p "$cache"
      mmdebstrap --variant=minbase --mode=root --format=tar --include=ca-certificates \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
        bookworm "$cache/bookworm-minbase.tar.part" http://deb.debian.org/debian >"$cache/mmdebstrap.log" 2>&1 ||
        fail "mmdebstrap failed: $cache/mmdebstrap.log"
      mv "$cache/bookworm-minbase.tar.part" "$cache/bookworm-minbase.tar"
    fi
    podman import -q "$cache/bookworm-minbase.tar" "$base" >/dev/null
    log "base image $base: $(since "$t") s"
  fi
  if [ "$package" = 1 ]; then
    t=$(now)
    bash scripts/package-deb.sh >/dev/null
    log "npm run package:deb: $(since "$t") s"
  fi
  bash deploy/docker/stage.sh
  t=$(now)
  # --format docker: the OCI image format has no HEALTHCHECK
  podman build -q --no-cache --format docker --build-arg "BASE=$base" -t hapg:local -f deploy/docker/Dockerfile . >/dev/null ||
    fail "podman build hapg:local"
  build_s=$(since "$t")
  size_mb=$(podman image inspect --format '{{.Size}}' hapg:local | awk '{ printf "%.0f", $1 / 1e6 }')
  base_mb=$(podman image inspect --format '{{.Size}}' "$base" | awk '{ printf "%.0f", $1 / 1e6 }')
  log "hapg:local built in $build_s s: $size_mb MB ($base_mb MB of it the base image)"
  printf 'image build (podman build, apt from the Debian mirror)  %s s\nimage size  %s MB (base %s MB)\n' \
    "$build_s" "$size_mb" "$base_mb" >>"$summary"
  podman build -q --build-arg "BASE=$base" -t "$services" -f deploy/docker/services.Dockerfile deploy/docker >/dev/null ||
    fail "podman build $services"

  log "waiting for /tmp/hapg-it.lock"
  HAPG_IT_LOCK_HELD=1 HAPG_CT_SUMMARY=$summary exec flock /tmp/hapg-it.lock bash "$0"
fi

# --- 2. the stack ---------------------------------------------------------------------------------
project=hapgct
[ -f deploy/compose/compose.yml ] || fail "no deploy/compose/compose.yml"
logs=$(mktemp -d /tmp/hapg-containers-logs.XXXXXX)
# deploy/compose/compose.yml as it is, but for two things Debian's podman-compose 1.0.3 needs here
# (a second -f file cannot say them: 1.0.3 appends lists when it merges files):
# - the health check in the shell form: 1.0.3 joins an exec-form ["CMD", ...] test into a broken
#   shell command (`node' '-e' ''fetch(...)'`), and the check never passes;
# - HAProxy's open-file limit: containers.conf lowers the default to 1024 (above), and Debian's
#   haproxy refuses to start when its maxconn 1000 needs 2042 (and a container given any ulimit
#   loses the default ones: nproc too, or runc cannot set it).
# The copy sits beside copies of the files it mounts (./hapg.yaml, ./haproxy.cfg).
cp deploy/compose/hapg.yaml deploy/compose/haproxy.cfg "$logs/"
compose_file=$logs/compose.yml
node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs";
  import { createRequire } from "node:module";
  const [src, dest] = process.argv.slice(1);
  const { parse, stringify } = createRequire(`${process.cwd()}/packages/core/package.json`)("yaml");
  const doc = parse(readFileSync(src, "utf8"), { merge: true });
  const quote = (w) => (/^[\w.,:\/=@-]+$/.test(w) ? w : `'"'"'${w.replaceAll("'"'"'", "'"'"'\\'"'"''"'"'")}'"'"'`);
  for (const [name, svc] of Object.entries(doc.services)) {
    const test = svc.healthcheck?.test;
    if (Array.isArray(test) && test[0] === "CMD") svc.healthcheck.test = ["CMD-SHELL", test.slice(1).map(quote).join(" ")];
    if (name === "haproxy") svc.ulimits = { nofile: { soft: 4096, hard: 4096 }, nproc: { soft: 1000, hard: 1000 } };
  }
  writeFileSync(dest, stringify(doc));
' deploy/compose/compose.yml "$compose_file"
export ETCD_IMAGE=$services HAPROXY_IMAGE=$services
SUPERUSER_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
REPLICATION_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
RESTAPI_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
export SUPERUSER_PASSWORD REPLICATION_PASSWORD RESTAPI_PASSWORD
pc() { podman-compose -p "$project" -f "$compose_file" "$@"; }
ctr() { echo "${project}_$1_1"; }
nodes=(hapg1 hapg2 hapg3)
teardown() {
  set +e
  for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
    podman logs "$c" >"$logs/$c.log" 2>&1
  done
  pc down -v -t 5 >"$logs/down.log" 2>&1
  # anything podman-compose left behind
  podman ps -a -q --filter "label=io.podman.compose.project=$project" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  podman volume ls -q --filter "label=io.podman.compose.project=$project" | xargs -r podman volume rm -f >/dev/null 2>&1
  podman network ls -q --filter "label=io.podman.compose.project=$project" | xargs -r podman network rm -f >/dev/null 2>&1
  left=$(podman ps -a -q --filter "label=io.podman.compose.project=$project")
  [ -z "$left" ] || log "containers left: $left"
  log "container logs: $logs"
}
trap teardown EXIT
# a stack from an interrupted run
pc down -v -t 0 >/dev/null 2>&1 || true

t_up=$(now)
pc up -d >"$logs/up.log" 2>&1 || fail "podman-compose up: $(tail -5 "$logs/up.log")"
log "podman-compose up -d: $(since "$t_up") s"
# podman-compose 1.0.3 goes on (exit 0) when a container does not start
not_running=$(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}} {{.Status}}' | awk '$2 != "Up" { print $1 }')
[ -z "$not_running" ] || fail "not running after up: $(echo $not_running) ($(podman start $not_running 2>&1 | tail -1))"

# hactl inside a running node's container: the members as JSON lines "name role state timeline"
members() { # $1: the container to ask from
  podman exec "$(ctr "$1")" hactl -c /etc/hapg/hapg.yaml -o json list 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const m of JSON.parse(s)) console.log(m.member, m.role, m.state, m.tl);
    });' 2>/dev/null
}
# "leader name" when exactly one leader runs and the others stream from it, else nothing
converged() { # $1: ask from; $2: expected count
  members "$1" | awk -v want="$2" '
    $2 == "Leader" && $3 == "running" { leader = $1; n++ }
    $2 != "Leader" && $3 == "streaming" { n++ }
    END { if (n == want && leader != "") print leader }'
}
healthy() { # the image's HEALTHCHECK, run now (podman runs it from systemd timers, absent here)
  podman healthcheck run "$(ctr "$1")" >/dev/null 2>&1
}
psql_primary() {
  PGPASSWORD=$SUPERUSER_PASSWORD PGCONNECT_TIMEOUT=2 psql -X -q -At -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p 5000 -U postgres -d postgres "$@"
}
wait_for() { # $1: seconds; the rest: a command
  local deadline=$(($(date +%s) + $1)); shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# --- 3. healthy -----------------------------------------------------------------------------------
all_healthy() {
  local n
  [ -n "$(converged hapg1 3)" ] || return 1
  for n in "${nodes[@]}"; do healthy "$n" || return 1; done
}
wait_for 240 all_healthy || fail "the three members did not become healthy in 240 s: $(members hapg1 | tr '\n' ';')"
healthy_s=$(since "$t_up")
leader=$(converged hapg1 3)
log "3 members healthy (1 leader $leader, 2 streaming; health checks pass) $healthy_s s after up"
members hapg1 | sed 's/^/    /'
create() { psql_primary -c 'CREATE TABLE IF NOT EXISTS ct (id serial PRIMARY KEY, at timestamptz DEFAULT now(), by text)' 2>/dev/null; }
wait_for 30 create ||
  fail "no write through HAProxy (127.0.0.1:5000)"
psql_primary -c "INSERT INTO ct (by) VALUES ('before')"
[ "$(psql_primary -c 'SELECT inet_server_addr() IS NOT NULL AND NOT pg_is_in_recovery()')" = t ] ||
  fail "HAProxy's primary port does not reach a primary"
log "a write through HAProxy's primary port (127.0.0.1:5000) to $leader"

# --- 4. kill the leader's container ---------------------------------------------------------------
asker=
for n in "${nodes[@]}"; do [ "$n" = "$leader" ] || { asker=$n; break; }; done
new_leader_of() { # prints the new leader when one other than $leader runs with a streaming replica
  local l
  l=$(members "$asker" | awk -v old="$leader" '$2 == "Leader" && $3 == "running" && $1 != old { print $1 }')
  [ -n "$l" ] && echo "$l"
}
t_kill=$(now)
podman kill -s KILL "$(ctr "$leader")" >/dev/null
log "SIGKILL to the container of $leader"
new=
find_new() { new=$(new_leader_of) && [ -n "$new" ]; }
wait_for 120 find_new || fail "no new leader 120 s after the kill: $(members "$asker" | tr '\n' ';')"
leader_s=$(since "$t_kill")
log "new leader $new $leader_s s after the kill"
write() { psql_primary -c "INSERT INTO ct (by) VALUES ('after')" 2>/dev/null; }
wait_for 120 write || fail "writes through HAProxy did not resume"
writes_s=$(since "$t_kill")
[ "$(psql_primary -c "SELECT count(*) FROM ct WHERE by = 'before'")" = 1 ] || fail "the row written before the kill is missing"
log "writes through HAProxy resume $writes_s s after the kill (the earlier row is there)"

# --- 5. the old leader rejoins --------------------------------------------------------------------
t_start=$(now)
podman start "$(ctr "$leader")" >/dev/null
rejoined() {
  [ "$(converged "$asker" 3)" = "$new" ] && healthy "$leader"
}
wait_for 240 rejoined || fail "$leader did not rejoin as a streaming replica: $(members "$asker" | tr '\n' ';')"
rejoin_s=$(since "$t_start")
log "$leader rejoined as a streaming replica of $new $rejoin_s s after its start"
members "$asker" | sed 's/^/    /'
want=$(psql_primary -c "SELECT count(*) FROM ct")
rows_on_old() {
  PGPASSWORD=$SUPERUSER_PASSWORD podman exec -e PGPASSWORD "$(ctr "$leader")" \
    psql -X -At -h "$leader" -U postgres -d postgres -c 'SELECT count(*) FROM ct' 2>/dev/null
}
caught_up() { [ "$(rows_on_old)" = "$want" ]; }
wait_for 30 caught_up || fail "$leader has $(rows_on_old) rows, the primary $want"
log "$leader has all $want rows"

printf 'time to healthy (up -d to 3 members healthy)  %s s\nfailover: new leader after SIGKILL  %s s\nfailover: writes through HAProxy resume  %s s\nold leader rejoined after start  %s s\n' \
  "$healthy_s" "$leader_s" "$writes_s" "$rejoin_s" >>"$summary"
log "summary"
sed 's/^/    /' "$summary"
log "OK"
