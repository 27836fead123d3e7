// Where the cluster answers: the API through haproxy on the VIP and on each master, etcd's client and
// peer URLs, and the files on master1 that grant access to the API.
import type { ClusterConfig } from "../config/types.ts";
import { APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from "../config/ports.ts";

/** kubeadm's admin kubeconfig on the masters (kubectl on master1 uses it). */
export const ADMIN_CONF = "/etc/kubernetes/admin.conf";
/** The cluster CA: what the apiserver's certificate is checked against. */
export const CA_CRT = "/etc/kubernetes/pki/ca.crt";

/** The API as every client reaches it: haproxy on the VIP. */
export const vipUrl = (ctx: { config: ClusterConfig }) => `https://${ctx.config.loadBalancer.vip}:${ctx.config.loadBalancer.port}`;
/** One master's own apiserver, around haproxy. */
export const apiserverUrl = (node: { address: string }) => `https://${node.address}:${APISERVER_PORT}`;

export const etcdClientUrl = (node: { address: string }) => `https://${node.address}:${ETCD_CLIENT_PORT}`;
export const etcdPeerUrl = (node: { address: string }) => `https://${node.address}:${ETCD_PEER_PORT}`;
