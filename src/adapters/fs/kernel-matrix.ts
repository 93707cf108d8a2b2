// Loads the supported-kernel matrix (data/kernel-matrix.yaml by default, or --kernel-matrix FILE).
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { KernelMatrix } from '../../core/kernel/readiness.js';
import { validateKernelMatrix } from '../../core/kernel/readiness.js';
import { userError } from '../../core/errors.js';
import { packagePath } from './package.js';

export function loadKernelMatrix(file?: string): KernelMatrix {
  const path = file ?? packagePath('data', 'kernel-matrix.yaml');
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, 'utf8'));
  } catch (e) {
    throw userError('MIGRATE_KERNEL_MATRIX_INVALID', `cannot read kernel matrix ${path}: ${(e as Error).message}`, { object: path, next: 'fix the file or drop --kernel-matrix to use the bundled one' });
  }
  const errs = validateKernelMatrix(doc);
  if (errs.length) {
    throw userError('MIGRATE_KERNEL_MATRIX_INVALID', `kernel matrix ${path}: ${errs.join('; ')}`, { object: path, next: 'see data/kernel-matrix.yaml for the expected shape' });
  }
  return doc as KernelMatrix;
}
