import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuMillicores, formatBytes, formatMillicores, isValidQuantity, parseQuantityNano, quantityValue } from '../../src/core/quantity.js';

test('CPU quantities to millicores, rounding up like MilliValue()', () => {
  assert.equal(cpuMillicores('100m'), 100);
  assert.equal(cpuMillicores('0.1'), 100);
  assert.equal(cpuMillicores('1'), 1000);
  assert.equal(cpuMillicores('1.5'), 1500);
  assert.equal(cpuMillicores(2), 2000);
  assert.equal(cpuMillicores('250000u'), 250);
  assert.equal(cpuMillicores('1n'), 1, 'sub-milli rounds up');
  assert.equal(cpuMillicores('100.5m'), 101);
  assert.equal(cpuMillicores('1e3'), 1_000_000);
});

test('memory quantities to bytes, binary and decimal suffixes', () => {
  assert.equal(quantityValue('128Mi'), 128 * 1024 * 1024);
  assert.equal(quantityValue('1Gi'), 1073741824);
  assert.equal(quantityValue('1.5Gi'), 1610612736);
  assert.equal(quantityValue('1G'), 1e9);
  assert.equal(quantityValue('500M'), 5e8);
  assert.equal(quantityValue('1k'), 1000);
  assert.equal(quantityValue('1Ki'), 1024);
  assert.equal(quantityValue('12e6'), 12_000_000);
  assert.equal(quantityValue('0.5Mi'), 524288);
  assert.equal(quantityValue('1500m'), 2, 'fractional bytes round up');
});

test('sums are exact where floats are not', () => {
  const sum = ['0.1', '0.2', '100m'].map(parseQuantityNano).reduce((a, b) => a + b, 0n);
  assert.equal(sum, 400_000_000n);
  assert.notEqual(0.1 + 0.2, 0.3);
});

test('invalid quantities are rejected', () => {
  for (const q of ['', 'abc', '1.2.3', '10 Mi', 'Mi', '1mi', '1KB', '1e3m']) assert.equal(isValidQuantity(q), false, q);
  assert.throws(() => parseQuantityNano('12x'), /invalid quantity/);
  assert.equal(isValidQuantity('-1'), true);
});

test('formatting', () => {
  assert.equal(formatMillicores(1500), '1500m');
  assert.equal(formatMillicores(2000), '2');
  assert.equal(formatBytes(1610612736), '1.5Gi');
  assert.equal(formatBytes(128 * 1024 * 1024), '128Mi');
  assert.equal(formatBytes(100), '100');
});
