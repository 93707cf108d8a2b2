// plans/online-shop is the example plan `make demo` writes; it must stay what the translator produces today
// (a golden directory: rerun `make demo` and review the diff when the translation changes on purpose).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runCli } from '../support/cli.js';
import { packagePath } from '../../src/adapters/fs/package.js';

function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(root, p), readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return out;
}

test('the committed example plan equals a fresh translation of fixtures/online-shop', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'migrate-plan-')), 'online-shop');
  const r = await runCli(['translate', '--snapshot', 'fixtures/online-shop/snapshot', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const fresh = tree(out);
  const committed = tree(packagePath('plans', 'online-shop'));
  assert.deepEqual([...fresh.keys()].sort(), [...committed.keys()].sort());
  for (const [f, text] of fresh) assert.equal(committed.get(f), text.replaceAll(out, 'plans/online-shop'), `plans/online-shop/${f} is stale: run make demo and review`);
});
