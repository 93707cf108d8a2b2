// Validates emitted manifests against the vendored CRD schemas (schema/vendor/<group>/<kind>_<version>.json).
// The schemas are large: each is read and compiled once, on first use.
import { readFileSync, existsSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import type { KubeObject } from '../../core/model/k8s.js';
import { apiGroup } from '../../core/model/k8s.js';
import { parseCidr, parseIp } from '../../core/verify/ip.js';
import type { ManifestValidator } from '../../ports/translate.js';
import { packagePath } from '../fs/package.js';

const FORMATS = {
  cidr: (s: string) => parseCidr(s) !== null && s.includes('/'),
  ipv4: (s: string) => parseIp(s)?.v6 === false,
  ipv6: (s: string) => parseIp(s)?.v6 === true,
  int32: true as const, int64: true as const, double: true as const, float: true as const, byte: true as const, binary: true as const, 'date-time': true as const, 'idn-hostname': true as const, hostname: true as const, uri: true as const,
};

// CRD patterns are Go RE2: `\pL`/`\PC` (one-letter Unicode classes) need braces in JavaScript.
const re2 = Object.assign((pattern: string, flags: string) => new RegExp(pattern.replace(/\\([pP])([A-Za-z])(?![A-Za-z{])/g, '\\$1{$2}'), flags), { code: 'new RegExp' });

export class SchemaValidator implements ManifestValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, formats: FORMATS, code: { regExp: re2 } });
  private readonly compiled = new Map<string, ValidateFunction | null>();

  constructor(private readonly dir: string = packagePath('schema', 'vendor')) {}

  private schemaFor(m: KubeObject): ValidateFunction | null {
    const group = apiGroup(m.apiVersion);
    const version = m.apiVersion.split('/')[1] ?? m.apiVersion;
    const file = `${this.dir}/${group}/${m.kind.toLowerCase()}_${version}.json`;
    let v = this.compiled.get(file);
    if (v === undefined) {
      v = existsSync(file) ? this.ajv.compile(JSON.parse(readFileSync(file, 'utf8'))) : null;
      this.compiled.set(file, v);
    }
    return v;
  }

  validate(m: KubeObject): string[] {
    const v = this.schemaFor(m);
    if (!v) return [`no schema for ${m.apiVersion} ${m.kind} under ${this.dir}`];
    if (v(m)) return [];
    return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).sort();
  }
}
