// Bytes read from a node (Host.readFile) as text.

/** The UTF-8 text of a file's bytes, or undefined when there was no file (readFile's null). */
export const textOf = (b: Uint8Array | null): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
