// Where every node keeps what lets it trust the depot, and nothing else: the depot CA (TLS) and the
// public half of the cluster's repository signing key. Written by the installer over SSH (whose host
// key was checked), read by apt, yum/dnf, containerd, docker and every curl the installer runs there.

/** Directory for the installer's files on a node (also holds the node marker). */
export const NODE_ETC_DIR = "/etc/k8s-ha-offline";
/** The depot CA certificate (PEM): TLS clients on the node verify the depot against it. */
export const NODE_DEPOT_CA = `${NODE_ETC_DIR}/depot-ca.crt`;
/** The repository signing key, binary OpenPGP keyring for apt's signed-by=. */
export const NODE_REPO_KEY_GPG = `${NODE_ETC_DIR}/depot-repo.gpg`;
/** The same key armored, for yum/dnf's gpgkey=file://. */
export const NODE_REPO_KEY_ASC = `${NODE_ETC_DIR}/depot-repo.asc`;
