// What apt's and yum's repository files have in common: the depot's package repository of a profile.

/** Each repository file says who wrote it and why nothing else is configured. */
export const REPO_FILE_HEADER = "# Written by k8s-ha-offline: packages come from the depots on the masters (air-gapped site).";

/** The profile's repository on the depot: <depot>/repo/<profile>/ (depotUrl as nodes reach it, e.g. https://192.168.217.19:5000). */
export const depotRepoUrl = (depotUrl: string, profile: string) => `${depotUrl.replace(/\/+$/, "")}/repo/${profile}/`;
