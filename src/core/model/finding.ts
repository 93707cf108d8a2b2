// Findings in the style of istioctl analyze: `<level> [<code>] (<kind> <ns>/<name>) <message>`.

export type FindingLevel = 'Error' | 'Warning' | 'Info';

export interface Finding {
  level: FindingLevel;
  code: string;
  /** `<kind>/<ns>/<name>` or `<kind>/<name>`. */
  object: string;
  message: string;
}

const LEVEL_ORDER: Record<FindingLevel, number> = { Error: 0, Warning: 1, Info: 2 };

export function compareFindings(a: Finding, b: Finding): number {
  return LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] || a.code.localeCompare(b.code) || a.object.localeCompare(b.object) || a.message.localeCompare(b.message);
}

export function formatFinding(f: Finding): string {
  const parts = f.object.split('/');
  const obj = parts.length === 3 ? `${parts[0]} ${parts[1]}/${parts[2]}` : parts.join(' ');
  return `${f.level} [${f.code}] (${obj}) ${f.message}`;
}
