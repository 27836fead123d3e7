#!/bin/sh
# Written by k8s-ha-offline. Is this node a good holder for the VIP?
# The seed only grepped `ss` for "9443"; this asks the load balancer itself.
# 1. haproxy must accept a connection on the LB port (curl exit 7 = refused, 28 = timed out).
# 2. once the cluster exists, an apiserver must answer through the local haproxy (any HTTP status).
#    Whether an apiserver is *ready* is the same question on every node, so it must not decide who
#    holds the VIP: when no apiserver is ready, haproxy still forwards to the reachable ones, and
#    failing here on every node at once would drop the VIP everywhere.
#    "The cluster exists" is judged the same on every node: an apiserver has answered, through this
#    haproxy or through the VIP (remembered in {{answered}}). kubeadm init's admin.conf was the sign
#    before, but it exists on master1 alone for the seconds its apiserver takes to come up: master1
#    failed here alone, the VIP went to master2 and came back just as the first join began (on the lab,
#    every cold install lost that join attempt: 11 s of timeout and a retry).
# With the argument "listening" only step 1's refusal counts (a timeout may be a busy machine).
answered={{answered}}
code=$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' https://127.0.0.1:{{port}}/readyz)
rc=$?
if [ "$1" = listening ]; then
  [ "$rc" -ne 7 ]
  exit
fi
[ "$rc" -eq 7 ] || [ "$rc" -eq 28 ] && exit 1
if [ "$rc" -eq 0 ] && [ "$code" != "000" ]; then
  [ -e "$answered" ] || : > "$answered"
  exit 0
fi
# No apiserver answers through this haproxy: a fault of this node once the cluster exists.
[ -e "$answered" ] && exit 1
code=$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' https://{{vip}}:{{port}}/readyz)
if [ $? -eq 0 ] && [ "$code" != "000" ]; then
  : > "$answered"
  exit 1
fi
exit 0
