// An error meant for the operator: printed as one clear message, never as a stack trace.
export class StandinError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "StandinError";
  }
}

export const fail = (message: string): never => {
  throw new StandinError(message);
};

export const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
