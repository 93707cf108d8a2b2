// KubeReader over a snapshot on disk: the offline twin of the cluster reader. Files written by
// `migrate snapshot` are indexed by line and parsed lazily per type, so a 50,000-pod snapshot is never held
// in memory as raw objects; other YAML/JSON files are parsed up front.
import { resolve } from 'node:path';
import type { KubeObject } from '../../core/model/k8s.js';
import { apiGroup } from '../../core/model/k8s.js';
import type { ResourceType } from '../../core/model/resources.js';
import type { Discovery, KubeReader, ListOptions } from '../../ports/kube.js';
import { indexLineList, parseSnapshotFile, readIndexedLines, snapshotFiles, type LineIndex } from './parse.js';

const typeKey = (group: string, kind: string) => `${group}/${kind}`;

interface TypeInfo {
  group: string;
  kind: string;
  version: string;
  namespaced?: boolean;
}

export class SnapshotReader implements KubeReader {
  readonly live = false;
  readonly source: string;
  private readonly eager = new Map<string, KubeObject[]>();
  private readonly lazy: LineIndex[] = [];
  private readonly types = new Map<string, TypeInfo>();

  constructor(path: string) {
    this.source = `snapshot ${path}`;
    const root = resolve(path);
    for (const file of snapshotFiles(path)) {
      const idx = indexLineList(file, root);
      if (idx) {
        this.lazy.push(idx);
        for (const key of idx.byType.keys()) {
          const [apiVersion, kind] = key.split('\u0000') as [string, string];
          this.note(apiVersion, kind);
        }
        continue;
      }
      for (const o of parseSnapshotFile(file, root)) {
        const k = this.note(o.apiVersion, o.kind, o.metadata.namespace !== undefined);
        let list = this.eager.get(k);
        if (!list) this.eager.set(k, (list = []));
        list.push(o);
      }
    }
  }

  private note(apiVersion: string, kind: string, namespaced?: boolean): string {
    const group = apiGroup(apiVersion);
    const k = typeKey(group, kind);
    if (!this.types.has(k)) this.types.set(k, { group, kind, version: apiVersion.split('/').pop() ?? apiVersion, ...(namespaced !== undefined ? { namespaced } : {}) });
    return k;
  }

  async discover(groups: string[]): Promise<Discovery> {
    const types: ResourceType[] = [];
    for (const t of this.types.values()) {
      if (!groups.includes(t.group)) continue;
      types.push({ group: t.group, version: t.version, kind: t.kind, plural: `${t.kind.toLowerCase()}s`, namespaced: t.namespaced ?? true });
    }
    types.sort((a, b) => a.group.localeCompare(b.group) || a.kind.localeCompare(b.kind));
    return { types, findings: [] };
  }

  async *list(type: ResourceType, opts: ListOptions = {}): AsyncIterable<KubeObject> {
    const want = (o: KubeObject) => opts.namespace === undefined || o.metadata.namespace === opts.namespace;
    for (const o of this.eager.get(typeKey(type.group, type.kind)) ?? []) if (want(o)) yield o;
    for (const idx of this.lazy) {
      for (const key of idx.byType.keys()) {
        const [apiVersion, kind] = key.split('\u0000') as [string, string];
        if (kind !== type.kind || apiGroup(apiVersion) !== type.group) continue;
        for (const o of readIndexedLines(idx, key)) if (want(o)) yield o;
      }
    }
  }
}
