// KubeReader over a snapshot on disk: the offline twin of the cluster reader.
import { resolve } from 'node:path';
import type { KubeObject } from '../../core/model/k8s.js';
import { apiGroup } from '../../core/model/k8s.js';
import type { ResourceType } from '../../core/model/resources.js';
import type { Discovery, KubeReader, ListOptions } from '../../ports/kube.js';
import { parseSnapshotFile, snapshotFiles } from './parse.js';

const typeKey = (group: string, kind: string) => `${group}/${kind}`;

export class SnapshotReader implements KubeReader {
  readonly live = false;
  readonly source: string;
  private readonly byType = new Map<string, KubeObject[]>();

  constructor(path: string) {
    this.source = `snapshot ${path}`;
    const root = resolve(path);
    for (const file of snapshotFiles(path)) {
      for (const o of parseSnapshotFile(file, root)) {
        const k = typeKey(apiGroup(o.apiVersion), o.kind);
        let list = this.byType.get(k);
        if (!list) this.byType.set(k, (list = []));
        list.push(o);
      }
    }
  }

  async discover(groups: string[]): Promise<Discovery> {
    const types: ResourceType[] = [];
    for (const [k, objs] of this.byType) {
      const [group, kind] = k.split('/') as [string, string];
      if (!groups.includes(group)) continue;
      const version = objs[0]!.apiVersion.split('/')[1] ?? objs[0]!.apiVersion;
      types.push({ group, version, kind, plural: `${kind.toLowerCase()}s`, namespaced: objs[0]!.metadata.namespace !== undefined });
    }
    types.sort((a, b) => a.group.localeCompare(b.group) || a.kind.localeCompare(b.kind));
    return { types, findings: [] };
  }

  async *list(type: ResourceType, opts: ListOptions = {}): AsyncIterable<KubeObject> {
    for (const o of this.byType.get(typeKey(type.group, type.kind)) ?? []) {
      if (opts.namespace !== undefined && o.metadata.namespace !== opts.namespace) continue;
      yield o;
    }
  }
}
