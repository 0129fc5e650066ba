import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createImage } from '../../src/store/file/image.ts';

const line = (n: number) => Buffer.from(JSON.stringify({ endpoint: `https://push.example/${n}` }));
const text = (parts: readonly Buffer[]) => Buffer.concat(parts).toString();
const json = (numbers: number[]) =>
  numbers.length === 0 ? '[]\n' : `[\n${numbers.map((n) => line(n)).join(',\n')}\n]\n`;

test('holds the lines as a JSON array, one per line, and an empty one as []', () => {
  const image = createImage([line(1), line(2)]);
  assert.equal(text(image.parts()), json([1, 2]));
  assert.equal(text(createImage([]).parts()), '[]\n');
});

test('removes a line wherever it is, and the separator with it', () => {
  const image = createImage([1, 2, 3, 4].map(line));
  assert.ok(image.remove(line(2)));
  assert.equal(text(image.parts()), json([1, 3, 4]));
  assert.ok(image.remove(line(4)));
  assert.ok(image.remove(line(1)));
  assert.equal(text(image.parts()), json([3]));
  assert.ok(image.remove(line(3)));
  assert.equal(text(image.parts()), '[]\n');
});

test('a line removed and appended again is found again at its new place', () => {
  const image = createImage([1, 2].map(line));
  for (let i = 0; i < 3; i++) {
    assert.ok(image.remove(line(1)));
    image.append(line(1));
  }
  assert.equal(text(image.parts()), json([2, 1]));
});

test('what parts() returned stays as it was through later appends, removes and growth', () => {
  const image = createImage([1, 2, 3].map(line));
  const written = image.parts();
  const before = text(written);
  assert.ok(image.remove(line(1)));
  for (let n = 4; n < 200; n++) image.append(line(n));
  assert.equal(text(written), before);
  const next = image.parts();
  assert.equal(text(next), json([2, 3, ...Array.from({ length: 196 }, (_, i) => i + 4)]));
});

test('remove answers false for a line it does not hold, and past 16 between two parts()', () => {
  const image = createImage(Array.from({ length: 20 }, (_, n) => line(n)));
  assert.equal(image.remove(line(99)), false);
  for (let n = 0; n < 16; n++) assert.ok(image.remove(line(n)));
  assert.equal(image.remove(line(16)), false);
  assert.equal(text(image.parts()), json([16, 17, 18, 19]));
  assert.ok(image.remove(line(16)));
});
