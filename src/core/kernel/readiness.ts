// eBPF readiness of a node from its kernel version and OS, decided by the kernel matrix (data/kernel-matrix.yaml).

export type Readiness = 'ready' | 'ready-with-caveats' | 'blocked';

export interface ReadinessReason {
  code: string;
  message: string;
}

export interface KernelRule {
  min?: string;
  max?: string;
  readiness: Readiness;
  reasons: ReadinessReason[];
}

export interface KernelOverride {
  when: { os?: string; kernelUnknown?: boolean; architecture?: string };
  readiness: Readiness;
  reasons: ReadinessReason[];
}

export interface KernelMatrix {
  rules: KernelRule[];
  overrides?: KernelOverride[];
}

export interface NodeFacts {
  kernelVersion?: string;
  operatingSystem?: string;
  architecture?: string;
}

export interface NodeReadiness {
  readiness: Readiness;
  reasons: ReadinessReason[];
}

export const READINESS_ORDER: readonly Readiness[] = ['ready', 'ready-with-caveats', 'blocked'];

/** "5.15.0-1034-azure" -> [5, 15]; "6.1" -> [6, 1]; anything else -> undefined. */
export function parseKernelVersion(v: string | undefined): [number, number] | undefined {
  const m = /^\s*v?(\d+)\.(\d+)/.exec(v ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function cmp(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

export function validateKernelMatrix(m: unknown): string[] {
  const errs: string[] = [];
  const mm = m as KernelMatrix;
  if (!mm || !Array.isArray(mm.rules) || mm.rules.length === 0) return ['rules: must be a non-empty list'];
  mm.rules.forEach((r, i) => {
    if (!READINESS_ORDER.includes(r.readiness)) errs.push(`rules[${i}].readiness: must be one of ${READINESS_ORDER.join(', ')}`);
    for (const k of ['min', 'max'] as const) if (r[k] !== undefined && !parseKernelVersion(String(r[k]))) errs.push(`rules[${i}].${k}: "${r[k]}" is not a major.minor version`);
    if (!Array.isArray(r.reasons)) errs.push(`rules[${i}].reasons: must be a list`);
  });
  return errs;
}

export function nodeReadiness(node: NodeFacts, matrix: KernelMatrix): NodeReadiness {
  const kernel = parseKernelVersion(node.kernelVersion);
  for (const o of matrix.overrides ?? []) {
    const w = o.when;
    if (w.os !== undefined && (node.operatingSystem ?? 'linux').toLowerCase() === w.os.toLowerCase()) return { readiness: o.readiness, reasons: o.reasons };
    if (w.architecture !== undefined && node.architecture === w.architecture) return { readiness: o.readiness, reasons: o.reasons };
    if (w.kernelUnknown && !kernel) return { readiness: o.readiness, reasons: o.reasons };
  }
  if (!kernel) return { readiness: 'blocked', reasons: [{ code: 'KERNEL_UNKNOWN', message: 'no parsable kernel version' }] };
  for (const r of matrix.rules) {
    const lo = r.min ? parseKernelVersion(r.min) : undefined;
    const hi = r.max ? parseKernelVersion(r.max) : undefined;
    // max is inclusive of the whole minor series: "6.0" covers 6.0.x.
    if ((!lo || cmp(kernel, lo) >= 0) && (!hi || cmp(kernel, hi) <= 0)) return { readiness: r.readiness, reasons: r.reasons };
  }
  return { readiness: 'blocked', reasons: [{ code: 'KERNEL_NOT_IN_MATRIX', message: `kernel ${node.kernelVersion} matches no rule of the kernel matrix` }] };
}
