# shellcheck shell=bash
# What scripts/test-deb.sh and scripts/test-deb-systemd.sh share: source it after setting TAG.

log() { printf '[%s] %s\n' "$TAG" "$*"; }
fail() { printf '[%s] FAIL: %s\n' "$TAG" "$*" >&2; exit 1; }
since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }

# free_ports N: N TCP ports free on 127.0.0.1 now, space-separated
free_ports() {
  node -e '
    const net = require("net");
    const servers = Array.from({ length: Number(process.argv[1]) }, () => net.createServer().listen(0, "127.0.0.1"));
    Promise.all(servers.map((s) => new Promise((r) => s.on("listening", r)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1"
}

# etcd_args CLIENT_PORT PEER_PORT: the flags of a one-member etcd (named e0) on loopback
etcd_args() {
  printf '%s\n' --name e0 \
    --listen-client-urls "http://127.0.0.1:$1" --advertise-client-urls "http://127.0.0.1:$1" \
    --listen-peer-urls "http://127.0.0.1:$2" --initial-advertise-peer-urls "http://127.0.0.1:$2" \
    --initial-cluster "e0=http://127.0.0.1:$2"
}

# node_yaml SCOPE NAME PG_PORT REST_PORT ETCD_PORT DATA_DIR: a small node's YAML on stdout
# (passwords <scope>-su and <scope>-repl)
node_yaml() {
  cat <<YAML
scope: $1
name: $2
restapi:
  listen: 127.0.0.1:$4
  connect_address: 127.0.0.1:$4
etcd3:
  hosts: [127.0.0.1:$5]
postgresql:
  listen: 127.0.0.1:$3
  connect_address: 127.0.0.1:$3
  data_dir: $6
  authentication:
    superuser: { username: postgres, password: $1-su }
    replication: { username: replicator, password: $1-repl }
  parameters: { shared_buffers: 16MB, max_connections: 20, fsync: 'off' }
bootstrap:
  dcs: { ttl: 10, loop_wait: 2, retry_timeout: 3 }
fence:
  enabled: true
YAML
}
