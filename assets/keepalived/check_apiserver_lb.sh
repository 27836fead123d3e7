#!/bin/sh
# Written by k8s-ha-offline. Is this node a good holder for the VIP?
# The seed only grepped `ss` for "9443"; this asks the load balancer itself.
# 1. haproxy must accept a connection on the LB port (curl exit 7 = refused, 28 = timed out).
# 2. once the cluster exists, /readyz through the local haproxy must answer 200.
code=$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' https://127.0.0.1:{{port}}/readyz)
rc=$?
[ "$rc" -eq 7 ] || [ "$rc" -eq 28 ] && exit 1
if [ -f /etc/kubernetes/admin.conf ]; then
  [ "$code" = "200" ] || exit 1
fi
exit 0
