// The live metrics adapter on a real prom-client registry (no HTTP): what a scrape of /metrics would read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromShadowMetrics } from '../../src/adapters/metrics/shadow-metrics.js';

const value = async (m: PromShadowMetrics, name: string, labels: string) => {
  const line = (await m.registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

test('traffic no sidecar handles: counters take the growth of the cumulative totals, by unit and reason', async () => {
  const m = new PromShadowMetrics();
  // the would-deny series exist before any such flow (an alert has something to read)
  assert.equal(await value(m, 'migrate_shadow_no_sidecar_would_deny_total', 'unit="flows",reason="not_tcp"'), 0);
  m.noSidecar([{ unit: 'flows', reason: 'not-tcp', seen: 5, denied: 5 }, { unit: 'requests', reason: 'no-sidecar', seen: 3, denied: 0 }]);
  m.noSidecar([{ unit: 'flows', reason: 'not-tcp', seen: 7, denied: 6 }, { unit: 'requests', reason: 'no-sidecar', seen: 3, denied: 0 }]);
  assert.equal(await value(m, 'migrate_shadow_no_sidecar_total', 'unit="flows",reason="not_tcp"'), 7);
  assert.equal(await value(m, 'migrate_shadow_no_sidecar_would_deny_total', 'unit="flows",reason="not_tcp"'), 6);
  assert.equal(await value(m, 'migrate_shadow_no_sidecar_total', 'unit="requests",reason="no_sidecar"'), 3, 'no double count on an unchanged total');
  assert.equal(await value(m, 'migrate_shadow_no_sidecar_would_deny_total', 'unit="requests",reason="no_sidecar"'), 0);
  await m.close();
});
