import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import {
  DEFAULT_SUBJECT,
  generateKeys,
  loadOrCreateKeys,
  permissionWarning,
  readKeys,
  saveKeys,
  subjectProblem,
} from '../src/keys.ts';
import { withStrayBits } from './support/hostile.ts';
import { tempDir } from './support/processes.ts';

let dir: string;
let count = 0;
const fresh = () => join(dir, `vapid-${++count}.json`);

before(async () => {
  dir = await tempDir('keys-test-');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts that `promise` rejects with a ConfigError whose message matches every pattern. */
async function rejectsWithConfigError(promise: Promise<unknown>, ...patterns: (string | RegExp)[]) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), error.message);
      else assert.match(error.message, pattern);
    }
    return true;
  });
}

const acceptedSubjects = [
  'mailto:ops@example.com',
  'https://example.com',
  'https://push.example.com/contact',
  'mailto:admin@localhost-hosting.example',
  'https://localhost.example.com',
  'https://127.example.com',
];

for (const subject of acceptedSubjects) {
  test(`subjectProblem accepts ${subject}`, () => {
    assert.equal(subjectProblem(subject), undefined);
  });
}

const refusedSubjects = [
  'http://example.com',
  'ops@example.com',
  'ftp://example.com',
  'https://localhost',
  'https://localhost:4443/',
  'https://app.localhost',
  'https://127.0.0.1',
  'https://127.1.2.3:8443',
  'https://[::1]',
  'mailto:x@localhost',
  'mailto:x@127.0.0.1',
  'mailto:x@127.1',
  'mailto:x@LOCALHOST',
  'mailto:nobody',
  '',
];

for (const subject of refusedSubjects) {
  test(`subjectProblem refuses ${JSON.stringify(subject)} and explains Apple's rule`, () => {
    const problem = subjectProblem(subject);
    assert.ok(problem, `expected ${subject} to be refused`);
    assert.match(problem, /mailto:/);
    assert.match(problem, /Apple/);
  });
}

test('the default subject passes the subject rule', () => {
  assert.equal(subjectProblem(DEFAULT_SUBJECT), undefined);
});

test('generateKeys makes a P-256 key pair whose public key belongs to the private key', () => {
  const keys = generateKeys('mailto:ops@example.com');
  assert.equal(keys.subject, 'mailto:ops@example.com');
  const publicKey = Buffer.from(keys.publicKey, 'base64url');
  assert.equal(publicKey.length, 65);
  assert.equal(publicKey[0], 0x04);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(keys.privateKey, 'base64url'));
  assert.deepEqual(ecdh.getPublicKey(), publicKey);
  assert.equal(generateKeys().subject, DEFAULT_SUBJECT);
  assert.notEqual(generateKeys().privateKey, keys.privateKey);
});

test('saveKeys writes mode 0600 JSON that readKeys reads back', async () => {
  const file = fresh();
  const keys = generateKeys();
  await saveKeys(file, keys);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), keys);
  assert.deepEqual(await readKeys(file), keys);
});

test('readKeys answers undefined for a missing file', async () => {
  assert.equal(await readKeys(fresh()), undefined);
});

test('readKeys gives a file without a subject the default subject', async () => {
  const file = fresh();
  const { publicKey, privateKey } = generateKeys();
  await writeFile(file, JSON.stringify({ publicKey, privateKey }));
  assert.equal((await readKeys(file))?.subject, DEFAULT_SUBJECT);
});

const other = generateKeys();
const brokenKeyFiles: [string, () => string, RegExp][] = [
  ['is not JSON', () => '{"publicKey": ', /is not valid JSON/],
  ['lacks the private key', () => JSON.stringify({ publicKey: other.publicKey }), /"privateKey"/],
  ['holds null', () => 'null', /"publicKey" and "privateKey"/],
  [
    'holds a mismatched key pair',
    () => JSON.stringify({ ...generateKeys(), publicKey: other.publicKey }),
    /public key does not belong to the private key/,
  ],
  [
    'holds a private key that is not P-256',
    () => JSON.stringify({ publicKey: other.publicKey, privateKey: 'c2hvcnQ' }),
    /not a P-256 key|does not belong/,
  ],
  [
    'holds a localhost subject',
    () => JSON.stringify({ ...generateKeys(), subject: 'mailto:me@localhost' }),
    /localhost/,
  ],
];

for (const [what, content, message] of brokenKeyFiles) {
  test(`readKeys refuses a file that ${what}, naming the file`, async () => {
    const file = fresh();
    const text = content();
    await writeFile(file, text);
    await rejectsWithConfigError(readKeys(file), file, message);
    assert.equal(await readFile(file, 'utf8'), text);
  });
}

test('loadOrCreateKeys creates keys once, mode 0600, then reuses them', async () => {
  const config = loadConfig({ VAPID_FILE: fresh() });
  const first = await loadOrCreateKeys(config);
  assert.equal(first.created, true);
  assert.equal(first.keys.subject, DEFAULT_SUBJECT);
  assert.equal((await stat(config.vapidFile)).mode & 0o777, 0o600);
  const second = await loadOrCreateKeys(config);
  assert.equal(second.created, false);
  assert.deepEqual(second.keys, first.keys);
});

test('loadOrCreateKeys saves new keys with VAPID_SUBJECT as their subject', async () => {
  const config = loadConfig({ VAPID_FILE: fresh(), VAPID_SUBJECT: 'mailto:ops@example.com' });
  const { keys } = await loadOrCreateKeys(config);
  assert.equal(keys.subject, 'mailto:ops@example.com');
  assert.deepEqual(await readKeys(config.vapidFile), keys);
});

test('keys from the environment override the file and are not saved', async () => {
  const file = fresh();
  const stored = generateKeys();
  await saveKeys(file, stored);
  const env = generateKeys();
  const config = loadConfig({
    VAPID_FILE: file,
    VAPID_PUBLIC_KEY: env.publicKey,
    VAPID_PRIVATE_KEY: env.privateKey,
  });
  const { keys, created } = await loadOrCreateKeys(config);
  assert.equal(created, false);
  assert.equal(keys.publicKey, env.publicKey);
  assert.equal(keys.privateKey, env.privateKey);
  assert.deepEqual(await readKeys(file), stored);
});

test('keys from the environment are used when there is no file, and nothing is written', async () => {
  const file = fresh();
  const env = generateKeys();
  const config = loadConfig({
    VAPID_FILE: file,
    VAPID_PUBLIC_KEY: env.publicKey,
    VAPID_PRIVATE_KEY: env.privateKey,
    VAPID_SUBJECT: 'https://example.com',
  });
  const { keys } = await loadOrCreateKeys(config);
  assert.deepEqual(keys, { ...env, subject: 'https://example.com' });
  assert.equal(await readKeys(file), undefined);
});

test('mismatched keys in the environment are refused, naming the variables', async () => {
  const config = loadConfig({
    VAPID_FILE: fresh(),
    VAPID_PUBLIC_KEY: generateKeys().publicKey,
    VAPID_PRIVATE_KEY: generateKeys().privateKey,
  });
  await rejectsWithConfigError(loadOrCreateKeys(config), 'VAPID_PUBLIC_KEY', /does not belong/);
});

test('keys from the environment may carry the right "=" padding, and are used without it', async () => {
  const env = generateKeys();
  // 65 bytes take one "=", 32 bytes one too.
  const config = loadConfig({
    VAPID_FILE: fresh(),
    VAPID_PUBLIC_KEY: `${env.publicKey}=`,
    VAPID_PRIVATE_KEY: `${env.privateKey}=`,
  });
  const { keys } = await loadOrCreateKeys(config);
  assert.equal(keys.publicKey, env.publicKey);
  assert.equal(keys.privateKey, env.privateKey);
});

const uncanonicalEnvKeys: [
  string,
  (keys: { publicKey: string; privateKey: string }) => Record<string, string>,
  RegExp,
][] = [
  [
    'two "=" after the public key',
    (k) => ({ VAPID_PUBLIC_KEY: `${k.publicKey}==` }),
    /VAPID_PUBLIC_KEY has the wrong "=" padding/,
  ],
  [
    'a standard-base64 "+" in the private key',
    (k) => ({ VAPID_PRIVATE_KEY: `+${k.privateKey.slice(1)}` }),
    /VAPID_PRIVATE_KEY must use only the base64url alphabet/,
  ],
  [
    'stray bits in the public key',
    (k) => ({ VAPID_PUBLIC_KEY: withStrayBits(k.publicKey) }),
    /VAPID_PUBLIC_KEY is not canonical base64url/,
  ],
  [
    'a space in the private key',
    (k) => ({ VAPID_PRIVATE_KEY: `${k.privateKey.slice(0, 9)} ${k.privateKey.slice(9)}` }),
    /VAPID_PRIVATE_KEY must use only the base64url alphabet/,
  ],
];

for (const [what, change, message] of uncanonicalEnvKeys) {
  test(`keys from the environment with ${what} are refused, naming the variable`, async () => {
    const env = generateKeys();
    const config = loadConfig({
      VAPID_FILE: fresh(),
      VAPID_PUBLIC_KEY: env.publicKey,
      VAPID_PRIVATE_KEY: env.privateKey,
      ...change(env),
    });
    await rejectsWithConfigError(loadOrCreateKeys(config), message);
  });
}

test('VAPID_SUBJECT overrides the subject stored in the file without rewriting it', async () => {
  const file = fresh();
  const stored = generateKeys('mailto:old@example.com');
  await saveKeys(file, stored);
  const config = loadConfig({ VAPID_FILE: file, VAPID_SUBJECT: 'mailto:new@example.com' });
  const { keys } = await loadOrCreateKeys(config);
  assert.deepEqual(keys, { ...stored, subject: 'mailto:new@example.com' });
  assert.deepEqual(await readKeys(file), stored);
});

test('a localhost VAPID_SUBJECT is refused, naming the variable', async () => {
  const config = loadConfig({ VAPID_FILE: fresh(), VAPID_SUBJECT: 'https://localhost' });
  await rejectsWithConfigError(loadOrCreateKeys(config), /^VAPID_SUBJECT: /, /Apple/);
});

test('permissionWarning warns about a key file others can read', async () => {
  const file = fresh();
  await saveKeys(file, generateKeys());
  assert.equal(await permissionWarning(file), undefined);
  await chmod(file, 0o644);
  const warning = (await permissionWarning(file)) ?? '';
  assert.ok(warning.includes(file), warning);
  assert.match(warning, /mode 644/);
  assert.match(warning, /chmod 600/);
});

test('permissionWarning says nothing about a missing file', async () => {
  assert.equal(await permissionWarning(fresh()), undefined);
});
