// Kubernetes resource.Quantity arithmetic, exact: values are held as BigInt nano-units, so "0.1" + "100m" is
// exactly 200m and "1Gi" is exactly 1073741824 bytes. Rounding up to milli/whole units follows Kubernetes'
// MilliValue()/Value() (ceiling).

const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL_EXP: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY_RE = /^([+-]?)(\d+\.?\d*|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

export class QuantityError extends Error {}

// Clusters repeat the same few quantity strings across thousands of pods: parse each once.
const memo = new Map<string, bigint>();
const MEMO_LIMIT = 10_000;

/** Parses a quantity into nano-units (value * 1e9), rounding any sub-nano remainder up. */
export function parseQuantityNano(input: string | number): bigint {
  const s = String(input).trim();
  const hit = memo.get(s);
  if (hit !== undefined) return hit;
  const v = parseUncached(s);
  if (memo.size < MEMO_LIMIT) memo.set(s, v);
  return v;
}

function parseUncached(s: string): bigint {
  const m = QUANTITY_RE.exec(s);
  if (!m) throw new QuantityError(`invalid quantity "${s}"`);
  const [, sign, num, suffix, exp] = m;
  const [intPart, fracPart = ''] = num!.split('.');
  let digits = BigInt((intPart || '0') + fracPart);
  let exp10 = 9 - fracPart.length;
  let mult = 1n;
  if (suffix && suffix in BINARY) mult = BINARY[suffix]!;
  else if (suffix !== undefined) exp10 += DECIMAL_EXP[suffix]!;
  else if (exp !== undefined) exp10 += Number(exp);
  digits *= mult;
  let nano: bigint;
  if (exp10 >= 0) nano = digits * 10n ** BigInt(exp10);
  else {
    const div = 10n ** BigInt(-exp10);
    nano = digits / div + (digits % div === 0n ? 0n : 1n);
  }
  return sign === '-' ? -nano : nano;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  if (a >= 0n) return a / b + (a % b === 0n ? 0n : 1n);
  return a / b;
}

/** CPU in millicores, rounded up (Kubernetes MilliValue). */
export function cpuMillicores(q: string | number): number {
  return Number(ceilDiv(parseQuantityNano(q), 1_000_000n));
}

/** Memory (or any count) in whole units, rounded up (Kubernetes Value). */
export function quantityValue(q: string | number): number {
  return Number(ceilDiv(parseQuantityNano(q), 1_000_000_000n));
}

export function isValidQuantity(q: unknown): boolean {
  return (typeof q === 'string' || typeof q === 'number') && QUANTITY_RE.test(String(q).trim());
}

/** Millicores for display: 1500 -> "1500m", 2000 -> "2". */
export function formatMillicores(m: number): string {
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}

/** Bytes for display using the largest binary unit that keeps one decimal: 1610612736 -> "1.5Gi". */
export function formatBytes(b: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${s}${units[i]}`;
}
