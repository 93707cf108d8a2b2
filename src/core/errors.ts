// Errors with a stable code, a class, a fixed exit code, the object that failed and the next step
// (DESIGN.md convention 4). Commands print them; --json prints them as { error: {...} }.

export type ErrorClass = 'user' | 'cluster' | 'probe' | 'bug';

/** Exit codes per class: stable, documented in README. */
export const EXIT_CODES: Record<ErrorClass, number> = { user: 2, cluster: 3, probe: 4, bug: 70 };

export interface MigrateErrorInit {
  code: string;
  message: string;
  errorClass: ErrorClass;
  object?: string;
  next?: string;
  /** For probe errors: the tail of the probe's stderr. */
  detail?: string;
  cause?: unknown;
}

export class MigrateError extends Error {
  readonly code: string;
  readonly errorClass: ErrorClass;
  readonly object?: string;
  readonly next?: string;
  readonly detail?: string;

  constructor(init: MigrateErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'MigrateError';
    this.code = init.code;
    this.errorClass = init.errorClass;
    this.object = init.object;
    this.next = init.next;
    this.detail = init.detail;
  }

  get exitCode(): number {
    return EXIT_CODES[this.errorClass];
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      class: this.errorClass,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.object ? { object: this.object } : {}),
      ...(this.next ? { next: this.next } : {}),
      ...(this.detail ? { detail: this.detail } : {}),
    };
  }

  /** One human line plus the next step, as printed on stderr. */
  format(): string {
    const obj = this.object ? ` (${this.object})` : '';
    const next = this.next ? `\n  next: ${this.next}` : '';
    const detail = this.detail ? `\n  ${this.detail.trimEnd().split('\n').join('\n  ')}` : '';
    return `error [${this.code}]${obj} ${this.message}${detail}${next}`;
  }
}

export function userError(code: string, message: string, extra: Omit<MigrateErrorInit, 'code' | 'message' | 'errorClass'> = {}): MigrateError {
  return new MigrateError({ code, message, errorClass: 'user', ...extra });
}

export function clusterError(code: string, message: string, extra: Omit<MigrateErrorInit, 'code' | 'message' | 'errorClass'> = {}): MigrateError {
  return new MigrateError({ code, message, errorClass: 'cluster', ...extra });
}

export function probeError(code: string, message: string, extra: Omit<MigrateErrorInit, 'code' | 'message' | 'errorClass'> = {}): MigrateError {
  return new MigrateError({ code, message, errorClass: 'probe', ...extra });
}

/** Anything that is not a MigrateError is a bug in the tool. */
export function asMigrateError(e: unknown): MigrateError {
  if (e instanceof MigrateError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new MigrateError({
    code: 'MIGRATE_INTERNAL',
    message: `internal error: ${message}`,
    errorClass: 'bug',
    next: 'this is a bug in migrate: please report it with the command line and --json output',
    cause: e,
  });
}
