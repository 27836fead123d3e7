// The PKI toolkit: CAs and leaf certificates made in TypeScript (no openssl/cfssl on any node).
export { createCa, loadCa, type CertAndKey, type SigningCa, CA_VALIDITY_DAYS } from "./ca.ts";
export { issueCert, type LeafSpec, type Usage, LEAF_VALIDITY_DAYS } from "./cert.ts";
export { needsRenewal, type RenewalCriteria, type RenewalVerdict, MIN_DAYS_LEFT } from "./renewal.ts";
export {
  planEtcdPki,
  reviewEtcdPki,
  etcdPkiSources,
  etcdCaStatePaths,
  ETCD_PKI_DIR,
  KUBEADM_ETCD_CLIENT,
  type EtcdPkiPlan,
  type PlannedFile,
  type ExistingEtcdPki,
  type PlanOptions,
  type EtcdLeafSource,
} from "./etcd-pki.ts";
export {
  CERTIFICATES,
  certDef,
  certGlobs,
  certNodes,
  expectedCa,
  expectedSans,
  backedUpPaths,
  type CertDef,
  type CaDef,
  type LeafDef,
  type Placement,
  type Issuer,
  type Renewer,
  type ExpectedName,
} from "./certlist.ts";
export { discoveryHash, bootstrapToken, certificateKey, randomPassword, BOOTSTRAP_TOKEN_FORMAT } from "./discovery.ts";
export { pemBlocks, pemEncode } from "./pem.ts";
export {
  planDepotPki,
  reviewDepotPki,
  depotCaStatePaths,
  depotServingSans,
  DEPOT_SERVING,
  type DepotPkiPlan,
  type ExistingDepotPki,
} from "./depot-pki.ts";
