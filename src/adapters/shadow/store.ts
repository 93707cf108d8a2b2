// The results directory of a shadow run (layout in src/core/shadow/run.ts). Appends go straight to the
// files (O_APPEND), meta/cursor/result are replaced atomically.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.js';
import { RUN_FILES } from '../../core/shadow/run.js';
import type { ShadowCursor, ShadowRunMeta } from '../../core/shadow/run.js';
import type { ShadowStore } from '../../ports/shadow.js';
import { userError } from '../../core/errors.js';

const safePod = (p: string) => p.replace(/[^A-Za-z0-9._-]/g, '_');

export class FsShadowStore implements ShadowStore {
  constructor(readonly dir: string, create = true) {
    if (create) mkdirSync(join(dir, RUN_FILES.accessDir), { recursive: true });
    else if (!existsSync(join(dir, RUN_FILES.meta))) {
      throw userError('MIGRATE_SHADOW_NO_RUN', `${dir} holds no shadow run (no ${RUN_FILES.meta})`, { object: dir, next: 'pass a results directory of an earlier `migrate shadow` run or a fixtures/shadow/<scenario> directory' });
    }
  }
  private p(name: string): string { return join(this.dir, name); }
  readMeta(): ShadowRunMeta | null {
    const f = this.p(RUN_FILES.meta);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ShadowRunMeta) : null;
  }
  writeMeta(m: ShadowRunMeta): void { writeFileAtomic(this.p(RUN_FILES.meta), JSON.stringify(m, null, 1) + '\n'); }
  readCursor(): ShadowCursor | null {
    const f = this.p(RUN_FILES.cursor);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ShadowCursor) : null;
  }
  writeCursor(c: ShadowCursor): void { writeFileAtomic(this.p(RUN_FILES.cursor), JSON.stringify(c) + '\n'); }
  appendProbe(text: string): void { if (text) appendFileSync(this.p(RUN_FILES.probe), text); }
  appendAccess(pod: string, text: string): void { if (text) appendFileSync(join(this.dir, RUN_FILES.accessDir, `${safePod(pod)}.log`), text); }
  readProbe(): string {
    const f = this.p(RUN_FILES.probe);
    return existsSync(f) ? cutPartial(readFileSync(f, 'utf8')) : '';
  }
  readAccess(): { pod: string; text: string }[] {
    const d = join(this.dir, RUN_FILES.accessDir);
    if (!existsSync(d)) return [];
    return readdirSync(d).filter((f) => f.endsWith('.log')).sort().map((f) => ({ pod: f.slice(0, -4), text: cutPartial(readFileSync(join(d, f), 'utf8')) }));
  }
  writeMetrics(pod: string, phase: 'start' | 'end', text: string): void {
    mkdirSync(join(this.dir, 'metrics'), { recursive: true });
    writeFileAtomic(join(this.dir, 'metrics', `${safePod(pod)}.${phase}.prom`), text);
  }
  readMetrics(): { pod: string; phase: 'start' | 'end'; text: string }[] {
    const d = join(this.dir, 'metrics');
    if (!existsSync(d)) return [];
    return readdirSync(d).sort().flatMap((f) => {
      const m = /^(.*)\.(start|end)\.prom$/.exec(f);
      return m ? [{ pod: m[1]!, phase: m[2] as 'start' | 'end', text: readFileSync(join(d, f), 'utf8') }] : [];
    });
  }
  writeResult(json: string, markdown: string): void {
    writeFileAtomic(this.p(RUN_FILES.result), json);
    writeFileAtomic(this.p(RUN_FILES.report), markdown);
  }
}

/** A crash can leave half a line at the end of an appended file: drop it (it is re-read on resume). */
function cutPartial(text: string): string {
  if (!text || text.endsWith('\n')) return text;
  const i = text.lastIndexOf('\n');
  return i < 0 ? '' : text.slice(0, i + 1);
}
