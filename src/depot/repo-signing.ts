// The cluster's repository signing key (issue 15): master1's depot signs the apt flat repository
// (InRelease, Release.gpg) and the yum repodata (repomd.xml.asc) with it, and the nodes verify with its
// public half (apt `signed-by=`, yum `repo_gpgcheck=1`) instead of trusting whoever answers on the network.
//
// All OpenPGP is done by OpenPGP.js (never hand-written packets). It is imported lazily, inside each
// function, so commands that never sign do not load it at start-up.
//
// Key choice: RSA 3072, v4 key (OpenPGP.js's default without v6Keys). el7's gpg 2.0 verifies neither
// ed25519 nor v6 keys, and one key type for every profile keeps the nodes' set-up uniform. No
// passphrase: the private key lives 0600 root in the state dir beside the cluster's other secrets.
// No encryption subkey: the key only ever signs.
import type { PrivateKey } from "openpgp";

/**
 * How far key creation and signature times are set in the past. gpgv (which apt runs) and gpg (which
 * dnf/yum use) refuse a key or signature "created in the future"; node clocks are not synced to master1
 * until chrony is set up, which needs packages from this very repository. The times are not
 * security-relevant here (no expiry, nothing is ordered by them).
 */
const CLOCK_SKEW_ALLOWANCE_MS = 24 * 3600 * 1000;

export interface RepoKey {
  /** ASCII-armored secret key: what the state dir keeps (0600). */
  privateArmored: string;
  /** ASCII-armored public key: yum's `gpgkey=file://…` (and apt `signed-by=` accepts it as a .asc file). */
  publicArmored: string;
  /** Binary public key packets: an apt `signed-by=` keyring file (`.gpg`), as gpgv --keyring reads it. */
  publicBinary: Uint8Array;
  /** Upper-case hex v4 fingerprint (40 digits), as gpg prints it. */
  fingerprint: string;
}

export interface RepoSigner {
  fingerprint: string;
  /** A clear-signed copy of text: apt's InRelease made from Release. */
  clearsign(text: string): Promise<string>;
  /** A detached signature over bytes: apt's Release.gpg (binary or armored), yum's repomd.xml.asc (armored). */
  detachSign(bytes: Uint8Array, armored: true): Promise<string>;
  detachSign(bytes: Uint8Array, armored: false): Promise<Uint8Array>;
}

const backdated = () => new Date(Date.now() - CLOCK_SKEW_ALLOWANCE_MS);

export function repoKeyUserId(clusterName: string): string {
  return `k8s-ha-offline repository signing (${clusterName})`;
}

/** A new signing key for one cluster's repositories. */
export async function generateRepoKey(clusterName: string): Promise<RepoKey> {
  const openpgp = await import("openpgp");
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "rsa",
    rsaBits: 3072,
    userIDs: [{ name: repoKeyUserId(clusterName) }],
    subkeys: [],
    date: backdated(),
    format: "object",
  });
  return {
    privateArmored: privateKey.armor(),
    publicArmored: publicKey.armor(),
    publicBinary: publicKey.write(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
  };
}

/** A signer for the key kept in the state dir. */
export async function loadRepoKey(privateArmored: string): Promise<RepoSigner> {
  const openpgp = await import("openpgp");
  const key: PrivateKey = await openpgp.readPrivateKey({ armoredKey: privateArmored });
  if (!key.isDecrypted()) throw new Error("the repository signing key is passphrase-protected; it is expected unprotected (0600 in the state dir)");
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    async clearsign(text) {
      const message = await openpgp.createCleartextMessage({ text });
      return openpgp.sign({ message, signingKeys: key, date: backdated() });
    },
    detachSign: (async (bytes: Uint8Array, armored: boolean) => {
      const message = await openpgp.createMessage({ binary: bytes });
      const common = { message, signingKeys: key, detached: true, date: backdated() };
      return armored ? openpgp.sign({ ...common, format: "armored" }) : openpgp.sign({ ...common, format: "binary" });
    }) as RepoSigner["detachSign"],
  };
}

/** The public half of the key kept in the state dir, in both forms the nodes keep (see trust-paths.ts). */
export async function publicRepoKey(privateArmored: string): Promise<Omit<RepoKey, "privateArmored">> {
  const openpgp = await import("openpgp");
  let key: PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: privateArmored });
  } catch (e) {
    throw new Error(`cannot read the repository signing key: ${(e as Error).message}`);
  }
  const pub = key.toPublic();
  return { publicArmored: pub.armor(), publicBinary: pub.write(), fingerprint: pub.getFingerprint().toUpperCase() };
}
