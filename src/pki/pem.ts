// PEM text <-> DER bytes. Kept separate because certificates, keys, kubeconfig
// data and the discovery hash all need it, and no module should re-parse PEM its own way.

export interface PemBlock {
  /** The word(s) after BEGIN, e.g. "CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY". */
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in a text, in order; text between blocks is ignored (openssl writes "Bag Attributes" etc.). */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    blocks.push({ label: m[1]!, der: new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64")) });
  }
  return blocks;
}

/** PEM with 64-column lines and a final newline, as openssl and Go write it. */
export function pemEncode(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export const isPrivateKeyLabel = (label: string) => /(^| )PRIVATE KEY$/.test(label) && !label.includes("ENCRYPTED");
