# For scripts/test-containers.sh only: etcd and HAProxy from Debian's packages (etcd-server 3.4,
# haproxy 2.6) in one image, for machines that reach no image registry. deploy/compose/compose.yml
# uses it for both through ETCD_IMAGE and HAPROXY_IMAGE; with a registry, the official
# quay.io/coreos/etcd and haproxy images are the defaults there.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
RUN set -eu; \
    # no service start from the packages' postinst in an image build
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; \
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' >/etc/dpkg/dpkg.cfg.d/slim; \
    apt-get update; \
    apt-get install -y --no-install-recommends etcd-server haproxy; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/sbin/policy-rc.d; \
    etcd --version | head -1; haproxy -v | head -1
