#!/bin/sh
# Lay the stand-in out under ROOT where a node has the real tools:
#   ROOT/usr/bin/kube-standin, and kubeadm, kubelet, kubectl as symlinks to it (argv[0] picks the
#   tool; one 110 MB binary instead of three copies)
#   ROOT/lib/systemd/system/kubelet.service
# Builds first when the binary is missing.  Usage: test/kube-standin/layout.sh ROOT
set -eu
[ $# -eq 1 ] || { echo "usage: $0 ROOT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/dist/kube-standin
[ -x "$bin" ] || "$here/build.sh" "$bin" >/dev/null
mkdir -p "$1/usr/bin" "$1/lib/systemd/system"
install -m 0755 "$bin" "$1/usr/bin/kube-standin"
for tool in kubeadm kubelet kubectl; do ln -sf kube-standin "$1/usr/bin/$tool"; done
install -m 0644 "$here/kubelet.service" "$1/lib/systemd/system/kubelet.service"
echo "$1: usr/bin/kube-standin (+ kubeadm kubelet kubectl symlinks), lib/systemd/system/kubelet.service"
