import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StringInterner } from '../../src/core/shadow/intern.js';
import { parseEnvoyTextLine } from '../../src/core/shadow/envoy-text.js';

const line = (client: string, server: string) =>
  `[2026-11-21T06:00:00.000Z] "GET /a HTTP/1.1" 200 - via_upstream - "-" 0 14 1 1 "-" "t" "id" "reviews:9080" "127.0.0.1:9080" inbound|9080|| 127.0.0.6:5000 ${server} ${client} - default`;

test('interner: equal values give the same string object, and always the value of s[i, j)', () => {
  const t = new StringInterner();
  const chunk = 'x 10.233.0.20:40000 y 10.233.0.20:40000 z';
  const a = t.get(chunk, 2, 19);
  const b = t.get(chunk, 22, 39);
  assert.equal(a, '10.233.0.20:40000');
  assert.ok(Object.is(a, b));
  assert.equal(t.hits, 1);
  assert.equal(t.get(chunk, 0, 0), '');
  assert.equal(t.get('-', 0, 1), '-');
});

test('interner: values that differ only in a port, in IPv6 brackets, or as a prefix stay apart', () => {
  const t = new StringInterner();
  const values = ['10.0.0.1:80', '10.0.0.1:8080', '10.0.0.1:808', '10.0.0.18:80', '[fd00::1]:80', '[fd00::1]:8080', '[fd00::10]:80', '[::ffff:10.0.0.1]:80', '127.0.0.6:5000', '127.0.0.6:50000'];
  for (let round = 0; round < 3; round++) {
    for (const v of values) {
      const chunk = `<${v}>`;
      assert.equal(t.get(chunk, 1, 1 + v.length), v);
    }
  }
});

test('interner: a one-slot table (every value collides) still returns the right values', () => {
  const t = new StringInterner(0);
  const vs = ['a:1', 'b:2', 'a:1', 'a:10', 'a:1'];
  assert.deepEqual(vs.map((v) => t.get(v, 0, v.length)), vs);
  assert.equal(t.hits, 0);
  assert.equal(t.misses, 5);
  assert.equal(t.get('a:1', 0, 3), 'a:1');
  assert.equal(t.hits, 1);
});

test('interner: non-ASCII values hash by UTF-16 code unit and compare exactly', () => {
  const t = new StringInterner(2);
  for (const v of ['héllo', 'hello', 'h€llo', '😀:1', '😀:2']) assert.equal(t.get(`"${v}"`, 1, 1 + v.length), v);
});

test('parser: two lines of one connection share their address strings; different ports do not', () => {
  const a = parseEnvoyTextLine(line('10.0.0.20:40000', '10.0.0.13:9080'), 'reviews')!;
  const b = parseEnvoyTextLine(line('10.0.0.20:40000', '10.0.0.13:9080'), 'reviews')!;
  const c = parseEnvoyTextLine(line('10.0.0.20:40001', '[fd00::13]:9080'), 'reviews')!;
  assert.ok(Object.is(a.downstreamRemote, b.downstreamRemote));
  assert.ok(Object.is(a.downstreamLocal, b.downstreamLocal));
  assert.equal(c.downstreamRemote, '10.0.0.20:40001');
  assert.equal(c.downstreamLocal, '[fd00::13]:9080');
  assert.equal(a.upstreamCluster, 'inbound|9080||');
  assert.equal(a.upstreamLocal, '127.0.0.6:5000');
  assert.equal(a.upstreamHost, '127.0.0.1:9080');
});
