// Field sets of the configuration kinds, per API version, as documented in the kubeadm, kubelet and
// kube-proxy config API references. v1beta4 differs from v1beta3 mainly in: extraArgs/kubeletExtraArgs
// become lists of {name, value}; extraEnvs; a `timeouts` block replaces apiServer.timeoutForControlPlane
// and discovery.timeout; dryRun, imagePullSerial, encryptionAlgorithm, certificate validity periods,
// dns/proxy.disabled.
import type { Schema, Spec } from "./schema.ts";

const typeMeta: Schema = { apiVersion: "string", kind: "string" };
const argList: Spec = { listOf: { object: { name: "string", value: "string" } } };
const envList: Spec = { listOf: { object: { name: "string", value: "string", valueFrom: "any" } } };
const hostPathMount: Spec = { listOf: { object: { name: "string", hostPath: "string", mountPath: "string", readOnly: "bool", pathType: "string" } } };
const bootstrapToken: Spec = {
  listOf: { object: { token: "string", description: "string", ttl: "duration", expires: "string", usages: "stringList", groups: "stringList" } },
};
const apiEndpoint: Spec = { object: { advertiseAddress: "string", bindPort: "int" } };
const timeouts: Spec = {
  object: {
    controlPlaneComponentHealthCheck: "duration", kubeletHealthCheck: "duration", kubernetesAPICall: "duration",
    etcdAPICall: "duration", tlsBootstrap: "duration", discovery: "duration", upgradeManifests: "duration",
  },
};

function nodeRegistration(v4: boolean): Spec {
  return {
    object: {
      name: "string", criSocket: "string", taints: "nullableList", kubeletExtraArgs: v4 ? argList : "stringMap",
      ignorePreflightErrors: "stringList", imagePullPolicy: "string", ...(v4 ? { imagePullSerial: "bool" } : {}),
    },
  };
}

function controlPlaneComponent(v4: boolean, extra: Schema = {}): Spec {
  return { object: { extraArgs: v4 ? argList : "stringMap", extraVolumes: hostPathMount, ...(v4 ? { extraEnvs: envList } : {}), ...extra } };
}

function etcd(v4: boolean): Spec {
  return {
    object: {
      local: {
        object: {
          imageRepository: "string", imageTag: "string", dataDir: "string", extraArgs: v4 ? argList : "stringMap",
          serverCertSANs: "stringList", peerCertSANs: "stringList", ...(v4 ? { extraEnvs: envList } : {}),
        },
      },
      external: { object: { endpoints: "stringList", caFile: "string", certFile: "string", keyFile: "string" } },
    },
  };
}

function initConfiguration(v4: boolean): Schema {
  return {
    ...typeMeta, bootstrapTokens: bootstrapToken, nodeRegistration: nodeRegistration(v4), localAPIEndpoint: apiEndpoint,
    certificateKey: "string", skipPhases: "stringList", patches: { object: { directory: "string" } },
    ...(v4 ? { dryRun: "bool", timeouts } : {}),
  };
}

function clusterConfiguration(v4: boolean): Schema {
  return {
    ...typeMeta, etcd: etcd(v4),
    networking: { object: { serviceSubnet: "string", podSubnet: "string", dnsDomain: "string" } },
    kubernetesVersion: "string", controlPlaneEndpoint: "string",
    apiServer: controlPlaneComponent(v4, { certSANs: "stringList", ...(v4 ? {} : { timeoutForControlPlane: "duration" }) }),
    controllerManager: controlPlaneComponent(v4), scheduler: controlPlaneComponent(v4),
    dns: { object: { imageRepository: "string", imageTag: "string", ...(v4 ? { disabled: "bool" } : {}) } },
    certificatesDir: "string", imageRepository: "string", featureGates: { mapOf: "bool" }, clusterName: "string",
    ...(v4 ? { proxy: { object: { disabled: "bool" } }, encryptionAlgorithm: "string", certificateValidityPeriod: "duration", caCertificateValidityPeriod: "duration" } : {}),
  };
}

function joinConfiguration(v4: boolean): Schema {
  return {
    ...typeMeta, nodeRegistration: nodeRegistration(v4), caCertPath: "string",
    discovery: {
      object: {
        bootstrapToken: { object: { token: "string", apiServerEndpoint: "string", caCertHashes: "stringList", unsafeSkipCAVerification: "bool" } },
        file: { object: { kubeConfigPath: "string" } }, tlsBootstrapToken: "string", ...(v4 ? {} : { timeout: "duration" }),
      },
    },
    controlPlane: { object: { localAPIEndpoint: apiEndpoint, certificateKey: "string" } },
    skipPhases: "stringList", patches: { object: { directory: "string" } }, ...(v4 ? { dryRun: "bool", timeouts } : {}),
  };
}

// kubelet.config.k8s.io/v1beta1 KubeletConfiguration (the fields in use up to 1.33).
const kubeletConfiguration: Schema = {
  ...typeMeta,
  ...Object.fromEntries(
    [
      "staticPodPath", "podLogsDir", "syncFrequency", "fileCheckFrequency", "httpCheckFrequency", "staticPodURL", "address", "readOnlyPort", "port",
      "tlsCertFile", "tlsPrivateKeyFile", "tlsMinVersion", "rotateCertificates", "serverTLSBootstrap", "registryPullQPS", "registryBurst",
      "eventRecordQPS", "eventBurst", "enableDebuggingHandlers", "enableContentionProfiling", "healthzPort", "healthzBindAddress", "oomScoreAdj",
      "clusterDomain", "streamingConnectionIdleTimeout", "nodeStatusUpdateFrequency", "nodeStatusReportFrequency", "nodeLeaseDurationSeconds",
      "imageMinimumGCAge", "imageMaximumGCAge", "imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "volumeStatsAggPeriod", "kubeletCgroups",
      "systemCgroups", "cgroupRoot", "cgroupsPerQOS", "cgroupDriver", "cpuManagerPolicy", "cpuManagerReconcilePeriod", "memoryManagerPolicy",
      "topologyManagerPolicy", "topologyManagerScope", "runtimeRequestTimeout", "hairpinMode", "maxPods", "podCIDR", "podPidsLimit", "resolvConf",
      "runOnce", "cpuCFSQuota", "cpuCFSQuotaPeriod", "nodeStatusMaxImages", "maxOpenFiles", "contentType", "kubeAPIQPS", "kubeAPIBurst",
      "serializeImagePulls", "maxParallelImagePulls", "evictionPressureTransitionPeriod", "evictionMaxPodGracePeriod", "podsPerCore",
      "enableControllerAttachDetach", "protectKernelDefaults", "makeIPTablesUtilChains", "iptablesMasqueradeBit", "iptablesDropBit",
      "failSwapOn", "memorySwap", "containerLogMaxSize", "containerLogMaxFiles", "containerLogMaxWorkers", "containerLogMonitorInterval",
      "configMapAndSecretChangeDetectionStrategy", "systemReserved", "kubeReserved", "reservedSystemCPUs", "showHiddenMetricsForVersion",
      "systemReservedCgroup", "kubeReservedCgroup", "enforceNodeAllocatable", "allowedUnsafeSysctls", "volumePluginDir", "providerID",
      "kernelMemcgNotification", "logging", "enableSystemLogHandler", "enableSystemLogQuery", "shutdownGracePeriod", "shutdownGracePeriodCriticalPods",
      "shutdownGracePeriodByPodPriority", "reservedMemory", "enableProfilingHandler", "enableDebugFlagsHandler", "seccompDefault",
      "memoryThrottlingFactor", "registerWithTaints", "registerNode", "tracing", "localStorageCapacityIsolation", "containerRuntimeEndpoint",
      "imageServiceEndpoint", "failCgroupV1", "authentication", "authorization", "evictionHard", "evictionSoft", "evictionSoftGracePeriod",
      "evictionMinimumReclaim", "featureGates", "clusterDNS", "tlsCipherSuites", "singleProcessOOMKill", "crashLoopBackOff", "userNamespaces",
    ].map((f) => [f, "any" as Spec]),
  ),
  cgroupDriver: "string", clusterDomain: "string", clusterDNS: "stringList", staticPodPath: "string", failSwapOn: "bool",
  rotateCertificates: "bool", maxPods: "int", featureGates: { mapOf: "bool" },
};

// kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration.
const kubeProxyConfiguration: Schema = {
  ...typeMeta,
  ...Object.fromEntries(
    [
      "featureGates", "clientConnection", "logging", "hostnameOverride", "bindAddress", "healthzBindAddress", "metricsBindAddress",
      "bindAddressHardFail", "enableProfiling", "showHiddenMetricsForVersion", "mode", "iptables", "ipvs", "nftables", "winkernel",
      "detectLocalMode", "detectLocal", "clusterCIDR", "nodePortAddresses", "oomScoreAdj", "conntrack", "configSyncPeriod",
      "portRange", "udpIdleTimeout", "windowsRunAsService",
    ].map((f) => [f, "any" as Spec]),
  ),
  mode: "string", clusterCIDR: "string",
  ipvs: { object: Object.fromEntries(["syncPeriod", "minSyncPeriod", "scheduler", "excludeCIDRs", "strictARP", "tcpTimeout", "tcpFinTimeout", "udpTimeout"].map((f) => [f, "any" as Spec])) },
  iptables: { object: Object.fromEntries(["masqueradeBit", "masqueradeAll", "localhostNodePorts", "syncPeriod", "minSyncPeriod"].map((f) => [f, "any" as Spec])) },
};

export const KUBEADM_GROUP = "kubeadm.k8s.io";

/** Schemas keyed by "apiVersion/kind". */
export const SCHEMAS: Record<string, Schema> = {
  "kubeadm.k8s.io/v1beta3/InitConfiguration": initConfiguration(false),
  "kubeadm.k8s.io/v1beta3/ClusterConfiguration": clusterConfiguration(false),
  "kubeadm.k8s.io/v1beta3/JoinConfiguration": joinConfiguration(false),
  "kubeadm.k8s.io/v1beta4/InitConfiguration": initConfiguration(true),
  "kubeadm.k8s.io/v1beta4/ClusterConfiguration": clusterConfiguration(true),
  "kubeadm.k8s.io/v1beta4/JoinConfiguration": joinConfiguration(true),
  "kubelet.config.k8s.io/v1beta1/KubeletConfiguration": kubeletConfiguration,
  "kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration": kubeProxyConfiguration,
};
