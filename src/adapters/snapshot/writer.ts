// Writes a snapshot directory: one `kubectl get -o yaml`-style List file per resource type, streamed so a
// large cluster is never held in memory. The directory appears whole or not at all: files go to a temporary
// sibling that is renamed into place at the end. An existing directory is only replaced if we wrote it.
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import type { KubeObject } from '../../core/model/k8s.js';
import { userError } from '../../core/errors.js';

export const SNAPSHOT_MARKER = '.migrate-snapshot';

/** Drops what is noise offline: managedFields and the last-applied annotation (often larger than the object). */
export function cleanObject(o: KubeObject): KubeObject {
  const { managedFields: _mf, ...metadata } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  const annotations = { ...(metadata.annotations ?? {}) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  else delete metadata.annotations;
  // apiVersion and kind first: the reader indexes a line by its first bytes without parsing it.
  const { apiVersion, kind, metadata: _m, ...rest } = o;
  return { apiVersion, kind, metadata, ...rest } as KubeObject;
}

/** The first line of a snapshot List file; items follow one per line (see parse.ts, which reads them lazily). */
export const LIST_HEADER = '{"apiVersion":"v1","kind":"List","metadata":{},"items":[';

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

  /**
   * Streams objects into `<file>.json`: a valid JSON List (kubectl reads it) with one item per line, so large
   * snapshots are read back a line at a time. JSON rather than YAML: it parses about eight times faster.
   */
  async writeList(file: string, objects: AsyncIterable<KubeObject> | Iterable<KubeObject>): Promise<number> {
    const path = join(this.tmp, `${file}.json`);
    const ws: WriteStream = createWriteStream(path);
    const write = async (s: string) => { if (!ws.write(s)) await once(ws, 'drain'); };
    let n = 0;
    await write(LIST_HEADER);
    for await (const o of objects) {
      await write(`${n ? ',' : ''}\n${JSON.stringify(cleanObject(o))}`);
      n++;
    }
    await write('\n]}\n');
    await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
    if (n === 0) rmSync(path);
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
