// Writes a plan directory all or nothing: files go to a sibling temp directory which then replaces the target
// with renames, so a crash leaves the old plan or the new one, never a mix.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { PlanFile, PlanWriter } from '../../ports/translate.js';
import { writeFileAtomic } from './atomic.js';

export const fsPlanWriter: PlanWriter = {
  writeAll(dir: string, files: PlanFile[]): void {
    const target = resolve(dir);
    const parent = dirname(target);
    mkdirSync(parent, { recursive: true });
    const tmp = join(parent, `.${basename(target)}.${process.pid}.tmp`);
    const old = join(parent, `.${basename(target)}.${process.pid}.old`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      for (const f of files) writeFileAtomic(join(tmp, f.path), f.content);
      mkdirSync(tmp, { recursive: true });
      if (existsSync(target)) renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(target) && existsSync(old)) renameSync(old, target);
      throw e;
    }
  },
};
