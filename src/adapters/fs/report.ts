// Writes a command's report file: Markdown for .md, the JSON Result for .json. Atomic, so a failed run
// never leaves a partial report.
import { extname } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { userError } from '../../core/errors.js';

export function writeReport<R>(path: string, result: R, markdown: (r: R) => string): void {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') writeFileAtomic(path, JSON.stringify(result, null, 2) + '\n');
  else if (ext === '.md' || ext === '.markdown') writeFileAtomic(path, markdown(result));
  else throw userError('MIGRATE_BAD_FLAG', `--output ${path}: unknown report type "${ext}"`, { object: '--output', next: 'use a .md or .json file name' });
}
