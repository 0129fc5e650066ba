import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter } from '../../src/http/rate-limit.ts';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let time = start;
  return {
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
  };
}

test('allows the given number of requests per minute, then answers the seconds to wait', () => {
  const { now, advance } = clock();
  const limiter = createRateLimiter(3, now);
  assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
  assert.equal(limiter.take('a'), 60);
  advance(15_000);
  assert.equal(limiter.take('a'), 45);
  advance(44_500);
  assert.equal(limiter.take('a'), 1);
});

test('counts each client address on its own', () => {
  const limiter = createRateLimiter(1, clock().now);
  assert.equal(limiter.take('127.0.0.1'), 0);
  assert.ok(limiter.take('127.0.0.1') > 0);
  assert.equal(limiter.take('::1'), 0);
});

test('starts afresh in the next minute', () => {
  const { now, advance } = clock();
  const limiter = createRateLimiter(2, now);
  limiter.take('a');
  limiter.take('a');
  assert.ok(limiter.take('a') > 0);
  advance(60_000);
  assert.equal(limiter.take('a'), 0);
  assert.equal(limiter.take('a'), 0);
  assert.ok(limiter.take('a') > 0);
});

test('a limit of 0 turns limiting off', () => {
  const limiter = createRateLimiter(0, clock().now);
  for (let i = 0; i < 1000; i++) assert.equal(limiter.take('a'), 0);
});

test('waitFor tells whether a client is over the limit without counting', () => {
  const limiter = createRateLimiter(2, clock().now);
  assert.equal(limiter.waitFor('a'), 0);
  limiter.take('a');
  assert.equal(limiter.waitFor('a'), 0);
  limiter.take('a');
  assert.equal(limiter.waitFor('a'), 60);
  assert.equal(limiter.waitFor('a'), 60);
  assert.equal(limiter.waitFor('b'), 0);
});
