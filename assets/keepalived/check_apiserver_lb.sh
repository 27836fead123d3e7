#!/bin/sh
# Written by k8s-ha-offline. Is this node a good holder for the VIP?
# The seed only grepped `ss` for "9443"; this asks the load balancer itself.
# 1. haproxy must accept a connection on the LB port (curl exit 7 = refused, 28 = timed out).
# 2. once the cluster exists, an apiserver must answer through the local haproxy (any HTTP status).
#    Whether an apiserver is *ready* is the same question on every node, so it must not decide who
#    holds the VIP: when no apiserver is ready, haproxy still forwards to the reachable ones, and
#    failing here on every node at once would drop the VIP everywhere.
# With the argument "listening" only step 1's refusal counts (a timeout may be a busy machine).
code=$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' https://127.0.0.1:{{port}}/readyz)
rc=$?
if [ "$1" = listening ]; then
  [ "$rc" -ne 7 ]
  exit
fi
[ "$rc" -eq 7 ] || [ "$rc" -eq 28 ] && exit 1
if [ -f /etc/kubernetes/admin.conf ]; then
  [ "$rc" -eq 0 ] && [ "$code" != "000" ] || exit 1
fi
exit 0
