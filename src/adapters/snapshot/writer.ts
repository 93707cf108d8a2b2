// Writes a snapshot directory: one `kubectl get -o yaml`-style List file per resource type, streamed so a
// large cluster is never held in memory. The directory appears whole or not at all: files go to a temporary
// sibling that is renamed into place at the end. An existing directory is only replaced if we wrote it.
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import yaml from 'js-yaml';
import type { KubeObject } from '../../core/model/k8s.js';
import { userError } from '../../core/errors.js';

export const SNAPSHOT_MARKER = '.migrate-snapshot';

/** Drops what is noise offline: managedFields and the last-applied annotation (often larger than the object). */
export function cleanObject(o: KubeObject): KubeObject {
  const { managedFields: _mf, ...metadata } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  const annotations = { ...(metadata.annotations ?? {}) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  return { ...o, metadata: { ...metadata, ...(Object.keys(annotations).length ? { annotations } : { annotations: undefined }) } } as KubeObject;
}

export class SnapshotDirWriter {
  private readonly tmp: string;

  constructor(private readonly out: string) {
    if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, SNAPSHOT_MARKER))) {
      throw userError('MIGRATE_OUTPUT_EXISTS', `${out} exists and was not written by migrate snapshot`, { object: out, next: 'pick an empty or new directory for --out' });
    }
    this.tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** Streams objects into `<file>.yaml` as a List; returns how many were written. */
  async writeList(file: string, objects: AsyncIterable<KubeObject>): Promise<number> {
    const ws: WriteStream = createWriteStream(join(this.tmp, `${file}.yaml`));
    const write = async (s: string) => { if (!ws.write(s)) await once(ws, 'drain'); };
    let n = 0;
    await write('apiVersion: v1\nkind: List\nmetadata: {}\nitems:\n');
    for await (const o of objects) {
      const doc = yaml.dump(JSON.parse(JSON.stringify(cleanObject(o))), { noRefs: true, lineWidth: -1 });
      await write(`- ${doc.trimEnd().split('\n').join('\n  ')}\n`);
      n++;
    }
    await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
    if (n === 0) rmSync(join(this.tmp, `${file}.yaml`));
    return n;
  }

  commit(meta: Record<string, unknown>): void {
    writeFileSync(join(this.tmp, SNAPSHOT_MARKER), JSON.stringify(meta, null, 2) + '\n');
    const old = `${this.out}.old-${process.pid}`;
    if (existsSync(this.out)) renameSync(this.out, old);
    renameSync(this.tmp, this.out);
    rmSync(old, { recursive: true, force: true });
  }

  abort(): void {
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
