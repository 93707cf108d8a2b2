// Reads a snapshot: a file or a directory of YAML/JSON (multi-document YAML, `List` kinds, `kubectl get -A -o
// yaml` output). Every error names the file and line, and the next step.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import yaml from 'js-yaml';
import type { KubeObject } from '../../core/model/k8s.js';
import { userError } from '../../core/errors.js';

const EXTS = new Set(['.yaml', '.yml', '.json']);

export function snapshotFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw userError('MIGRATE_SNAPSHOT_NOT_FOUND', `snapshot path does not exist: ${path}`, { object: path, next: 'pass a file or directory written by `migrate snapshot --out DIR` or `kubectl get -A -o yaml`' });
  }
  if (st.isFile()) return [path];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (EXTS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(path);
  if (out.length === 0) {
    throw userError('MIGRATE_SNAPSHOT_EMPTY', `no .yaml, .yml or .json files under ${path}`, { object: path, next: 'point --snapshot at the directory `migrate snapshot --out` wrote' });
  }
  return out;
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function malformed(file: string, line: number, reason: string): Error {
  return userError('MIGRATE_SNAPSHOT_MALFORMED', `${file}:${line}: ${reason}`, { object: `${file}:${line}`, next: 'fix or remove that document (validate with `kubectl apply --dry-run=client -f FILE`), then rerun' });
}

/** Splits multi-document YAML on `---` lines at column 0, keeping each document's first line number. */
function yamlDocuments(text: string): { line: number; body: string }[] {
  const docs: { line: number; body: string }[] = [];
  let start = 0;
  let startLine = 1;
  let line = 1;
  let pos = 0;
  while (pos <= text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl === -1 ? text.length : nl;
    if (text.startsWith('---', pos) && /^---(\s|$)/.test(text.slice(pos, Math.min(end, pos + 4)))) {
      docs.push({ line: startLine, body: text.slice(start, pos) });
      // Content after `--- ` on the same line belongs to the new document.
      start = pos + 3;
      startLine = line;
    }
    if (nl === -1) break;
    pos = nl + 1;
    line++;
  }
  docs.push({ line: startLine, body: text.slice(start) });
  return docs.filter((d) => d.body.trim() !== '' && d.body.trim() !== '...');
}

/** Flattens `List` documents and checks the shape every object must have. */
function* objectsOf(doc: unknown, file: string, line: number): Generator<KubeObject> {
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw malformed(file, line, 'document is not a Kubernetes object (expected a mapping with apiVersion, kind, metadata)');
  const o = doc as Record<string, unknown>;
  if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
    const itemKind = o.kind === 'List' ? undefined : o.kind.slice(0, -4);
    for (const it of o.items as unknown[]) {
      const item = it as Record<string, unknown>;
      // Typed lists (PodList) may omit kind and apiVersion on their items.
      if (item && typeof item === 'object' && itemKind && !item.kind) item.kind = itemKind;
      if (item && typeof item === 'object' && !item.apiVersion && itemKind && typeof o.apiVersion === 'string') item.apiVersion = o.apiVersion;
      yield* objectsOf(item, file, line);
    }
    return;
  }
  const md = o.metadata as Record<string, unknown> | undefined;
  const missing = !o.apiVersion ? 'apiVersion' : !o.kind ? 'kind' : !md || typeof md !== 'object' ? 'metadata' : !md.name ? 'metadata.name' : undefined;
  if (missing) throw malformed(file, line, `object${o.kind ? ` of kind ${String(o.kind)}` : ''} has no ${missing}`);
  yield o as unknown as KubeObject;
}

/** Parses one snapshot file into objects (streaming per document). */
export function* parseSnapshotFile(file: string, displayRoot?: string): Generator<KubeObject> {
  const shown = displayRoot ? relative(displayRoot, file) || file : file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw userError('MIGRATE_SNAPSHOT_UNREADABLE', `cannot read ${shown}: ${(e as Error).message}`, { object: shown, next: 'check the path and its permissions' });
  }
  if (extname(file).toLowerCase() === '.json' || /^\s*[[{]/.test(text.slice(0, 64))) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const line = m ? lineOfOffset(text, Number(m[1])) : (Number(/line (\d+)/.exec((e as Error).message)?.[1]) || 1);
      throw malformed(shown, line, `invalid JSON: ${(e as Error).message}`);
    }
    yield* objectsOf(doc, shown, 1);
    return;
  }
  for (const d of yamlDocuments(text)) {
    let doc: unknown;
    try {
      doc = yaml.load(d.body, { filename: shown });
    } catch (e) {
      const mark = (e as { mark?: { line?: number } }).mark;
      const line = d.line + (mark?.line ?? 0);
      throw malformed(shown, line, `invalid YAML: ${(e as { reason?: string }).reason ?? (e as Error).message}`);
    }
    yield* objectsOf(doc, shown, d.line);
  }
}

/** What `migrate snapshot` writes: a JSON List with one item per line (see writer.ts). */
const LINE_LIST_HEADER = '{"apiVersion":"v1","kind":"List","metadata":{},"items":[';
const ITEM_PREFIX = /^\{"apiVersion":"([^"]*)","kind":"([^"]*)"/;

export interface LineIndex {
  file: string;
  shown: string;
  /** `<apiVersion>\u0000<kind>` -> [start, end, line] triples, flattened. */
  byType: Map<string, number[]>;
}

/**
 * Indexes a one-item-per-line List file by each line's apiVersion and kind without parsing it, so large
 * snapshots are parsed lazily, one object at a time, when a type is listed. Undefined for other files.
 */
export function indexLineList(file: string, displayRoot?: string): LineIndex | undefined {
  if (extname(file).toLowerCase() !== '.json') return undefined;
  const buf = readFileSync(file);
  if (buf.toString('latin1', 0, LINE_LIST_HEADER.length) !== LINE_LIST_HEADER || buf[LINE_LIST_HEADER.length] !== 0x0a && buf.length > LINE_LIST_HEADER.length + 4) return undefined;
  const shown = displayRoot ? relative(displayRoot, file) || file : file;
  const byType = new Map<string, number[]>();
  let line = 1;
  let pos = buf.indexOf(0x0a) + 1;
  while (pos > 0 && pos < buf.length) {
    line++;
    let end = buf.indexOf(0x0a, pos);
    if (end === -1) end = buf.length;
    let stop = end;
    if (buf[stop - 1] === 0x2c) stop--; // trailing comma between items
    if (stop > pos && buf[pos] === 0x7b) {
      const m = ITEM_PREFIX.exec(buf.toString('latin1', pos, Math.min(stop, pos + 200)));
      if (!m) return undefined; // not our layout after all: parse it the general way
      const key = `${m[1]}\u0000${m[2]}`;
      let list = byType.get(key);
      if (!list) byType.set(key, (list = []));
      list.push(pos, stop, line);
    }
    pos = end + 1;
  }
  return { file, shown, byType };
}

/** Parses the indexed lines of one type, one object at a time. */
export function* readIndexedLines(idx: LineIndex, key: string): Generator<KubeObject> {
  const ranges = idx.byType.get(key);
  if (!ranges?.length) return;
  const buf = readFileSync(idx.file);
  for (let i = 0; i < ranges.length; i += 3) {
    let doc: unknown;
    try {
      doc = JSON.parse(buf.toString('utf8', ranges[i], ranges[i + 1]));
    } catch (e) {
      throw malformed(idx.shown, ranges[i + 2]!, `invalid JSON: ${(e as Error).message}`);
    }
    yield* objectsOf(doc, idx.shown, ranges[i + 2]!);
  }
}
