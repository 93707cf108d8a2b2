// What `migrate translate` needs besides a KubeReader: a validator for emitted manifests and a plan writer.
import type { KubeObject } from '../core/model/k8s.js';

export interface ManifestValidator {
  /** Schema errors of one manifest (empty = valid); unknown kinds report that no schema is known. */
  validate(m: KubeObject): string[];
}

export interface PlanFile { path: string; content: string }

export interface PlanWriter {
  /** Replace the directory's content with these files, all or nothing. */
  writeAll(dir: string, files: PlanFile[]): void;
}
