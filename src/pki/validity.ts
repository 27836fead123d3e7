// Validity windows and serial numbers shared by CA and leaf issuance.
export const DAY_MS = 86_400_000;

/**
 * Certificates start an hour in the past: nodes whose clocks are not yet synchronised
 * (time sync runs in the same install) must not reject a certificate as "not yet valid".
 */
export const BACKDATE_MS = 3_600_000;

export function validityWindow(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(days) || days <= 0) throw new Error(`certificate validity must be a positive number of days, got ${days}`);
  // Whole seconds: X.509 times carry no fractions, and equal inputs must give equal certificates' dates.
  const t = Math.floor(now.getTime() / 1000) * 1000;
  return { notBefore: new Date(t - BACKDATE_MS), notAfter: new Date(t + days * DAY_MS) };
}

/** 16 random bytes, positive (top bit clear) and without a leading zero byte, as hex. */
export function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString("hex");
}
