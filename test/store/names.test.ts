import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { createNameCount, distinctNames, parseName, uniqueName } from '../../src/store/names.ts';

const refused = (input: unknown, message: RegExp) =>
  assert.throws(
    () => parseName(input),
    (error: unknown) =>
      error instanceof HttpError && error.status === 400 && message.test(error.message),
    String(input),
  );

test('parseName trims a name and keeps any script and emoji', () => {
  assert.equal(parseName('  Chrome on Android '), 'Chrome on Android');
  assert.equal(parseName('Телефон Ани 📱'), 'Телефон Ани 📱');
  assert.equal(parseName('x'.repeat(60)), 'x'.repeat(60));
  assert.equal(parseName('📱'.repeat(60)), '📱'.repeat(60), 'counted in characters');
});

test('parseName answers 400 to what is not a name', () => {
  refused(5, /must be a string/);
  refused(null, /must be a string/);
  refused('   ', /must not be empty/);
  refused('x'.repeat(61), /longer than 60 characters/);
  refused('tab\there', /control characters/);
  refused('new\nline', /control characters/);
  refused('bell\u0007', /control characters/);
  refused('c1\u0085', /control characters/);
  refused('line\u2028separator', /control characters/);
  refused('\u202eevil', /control characters/);
  refused('All', /--to all means that already/);
  refused('latest', /--to latest means that already/);
});

test('uniqueName numbers a name in use with " 2", " 3"', () => {
  const taken = new Set(['phone', 'phone 2']);
  assert.equal(
    uniqueName('Laptop', (key) => taken.has(key)),
    'Laptop',
  );
  assert.equal(
    uniqueName('Phone', (key) => taken.has(key)),
    'Phone 3',
  );
  assert.equal(
    uniqueName('PHONE', (key) => taken.has(key)),
    'PHONE 3',
    'without regard to case',
  );
});

test('distinctNames keeps stored names, then numbers the browsers of entries without one', () => {
  const entries = [
    { browser: 'Chrome' },
    { name: 'Chrome', browser: 'Chrome' },
    { browser: 'Chrome' },
    { name: 'Phone', browser: 'Firefox' },
    { name: 'phone', browser: 'Safari' },
  ];
  const names = distinctNames(
    entries,
    (entry) => entry.name,
    (entry) => entry.browser,
  );
  assert.deepEqual(names, ['Chrome 2', 'Chrome', 'Chrome 3', 'Phone', 'phone 2']);
});

test('distinctNames numbers a thousand entries of one browser 1 to 1000, each once', () => {
  const names = distinctNames(
    Array.from({ length: 1000 }, () => 'Chrome'),
    () => undefined,
    (browser) => browser,
  );
  assert.deepEqual(names.slice(0, 3), ['Chrome', 'Chrome 2', 'Chrome 3']);
  assert.equal(names.at(-1), 'Chrome 1000');
  assert.equal(new Set(names).size, 1000);
});

test('a name count numbers against the names it follows, not counting the entry being renamed', () => {
  const entries = [{ name: 'Phone' }, { name: 'Laptop' }, {}];
  const count = createNameCount(() => entries);
  assert.equal(count.free('phone', undefined), 'phone 2');
  assert.equal(count.free('Phone', 'Phone'), 'Phone', 'its own name is free to keep');
  count.added('Phone 2');
  assert.equal(count.free('Phone', undefined), 'Phone 3');
  count.removed('Phone');
  assert.equal(count.free('Phone', undefined), 'Phone');
  entries.push({ name: 'Tablet' });
  assert.equal(count.free('Tablet', undefined), 'Tablet', 'counts are kept, not read again');
  count.reset();
  assert.equal(count.free('Tablet', undefined), 'Tablet 2', 'until reset');
});
