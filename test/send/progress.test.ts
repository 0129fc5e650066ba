import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgress, formatDuration, progressLine } from '../../src/send/progress.ts';

/** A progress reporter over a fake clock, and everything it wrote. */
function harness(options: { isTTY: boolean; minTotal?: number }) {
  const written: string[] = [];
  let clock = 1_000_000;
  const progress = createProgress({
    ...options,
    write: (text) => written.push(text),
    now: () => clock,
  });
  return {
    progress,
    written,
    advance(ms: number) {
      clock += ms;
    },
  };
}

test('draws done/total, rate and ETA on a terminal for more than 100 subscriptions', () => {
  const { progress, written, advance } = harness({ isTTY: true });
  advance(2000);
  progress.update(500, 1000);
  assert.deepEqual(written, ['\r500/1000  250/s  ETA 2s\x1b[K']);
});

test('redraws at most every 100 ms, but always draws the last one', () => {
  const { progress, written, advance } = harness({ isTTY: true });
  for (let done = 1; done <= 1000; done++) {
    advance(1);
    progress.update(done, 1000);
  }
  // 1000 updates over 1 s: the first, one per 100 ms after it, and the final 1000/1000.
  assert.ok(written.length >= 10 && written.length <= 12, `${written.length} redraws`);
  assert.equal(written.at(-1), '\r1000/1000  1000/s  ETA 0s\x1b[K');
  assert.ok(written.every((text) => text.startsWith('\r')));
});

test('finish clears the progress line so the summary takes its place', () => {
  const { progress, written, advance } = harness({ isTTY: true });
  advance(100);
  progress.update(10, 200);
  progress.finish();
  assert.equal(written.at(-1), '\r\x1b[K');
  progress.finish();
  assert.equal(written.length, 2, 'a second finish writes nothing');
});

const silent: [string, { isTTY: boolean }, number, number][] = [
  ['writes nothing when the output is not a terminal', { isTTY: false }, 5000, 5],
  ['writes nothing on a terminal for 100 subscriptions or fewer', { isTTY: true }, 100, 500],
];

for (const [name, options, total, stepMs] of silent) {
  test(name, () => {
    const { progress, written, advance } = harness(options);
    for (let done = 1; done <= total; done++) {
      advance(stepMs);
      progress.update(done, total);
    }
    progress.finish();
    assert.deepEqual(written, []);
  });
}

test('rate is per second since the start, and ETA the time left at that rate', () => {
  assert.equal(progressLine(0, 10_000, 0), '0/10000  0/s  ETA ?');
  assert.equal(progressLine(1200, 10_000, 1000), '1200/10000  1200/s  ETA 8s');
  assert.equal(progressLine(30, 10_000, 1000), '30/10000  30/s  ETA 5m33s');
  assert.equal(progressLine(1, 10_000, 1000), '1/10000  1/s  ETA 2h46m');
  assert.equal(progressLine(10_000, 10_000, 4000), '10000/10000  2500/s  ETA 0s');
});

test('formats durations as seconds, minutes and seconds, or hours and minutes', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(0.2), '1s');
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(60), '1m00s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3600), '1h00m');
  assert.equal(formatDuration(3720), '1h02m');
});
