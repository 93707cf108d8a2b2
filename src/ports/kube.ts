// What the workflows need from a cluster or a snapshot. Both adapters implement it, so live and offline runs
// take the same path through the code.
import type { KubeObject } from '../core/model/k8s.js';
import type { ResourceType } from '../core/model/resources.js';
import type { Finding } from '../core/model/finding.js';

export interface ListOptions {
  /** Undefined: all namespaces (or a cluster-scoped type). */
  namespace?: string;
}

export interface Discovery {
  /** Served resource types of the requested groups (preferred version of each group). */
  types: ResourceType[];
  /** Facts worth reporting: a group not served (CRDs not installed), a partial discovery. */
  findings: Finding[];
}

export interface KubeReader {
  /** Human description: `cluster https://...  (context x)` or `snapshot fixtures/...`. */
  readonly source: string;
  readonly live: boolean;
  discover(groups: string[]): Promise<Discovery>;
  /** Pages through a list; yields objects one by one so callers need not hold a whole list. */
  list(type: ResourceType, opts?: ListOptions): AsyncIterable<KubeObject>;
}

export interface Progress {
  update(what: string, count: number): void;
  done(what: string, count: number): void;
}

export const silentProgress: Progress = { update: () => {}, done: () => {} };
