// chrony's own config file before the time phase first rewrote it: kept beside it under this suffix,
// and moved back by reset (before --purge-packages, so a package the install added takes it along).
import { sh } from "../util/sh.ts";

export const CHRONY_ORIGINAL_SUFFIX = ".k8s-ha-offline.orig";
/** Where the profiles keep chrony's config (Debian: a directory; Enterprise Linux: one file). */
export const CHRONY_CONFS = ["/etc/chrony/chrony.conf", "/etc/chrony.conf"];

/** Moves the kept originals back over the rewritten files (nothing where none was kept). */
export const restoreChronyOriginal = () =>
  sh`for c in ${CHRONY_CONFS}; do [ ! -f "$c${CHRONY_ORIGINAL_SUFFIX}" ] || mv -f "$c${CHRONY_ORIGINAL_SUFFIX}" "$c"; done`;
