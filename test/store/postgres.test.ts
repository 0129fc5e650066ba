import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgresStorage } from '../../src/store/postgres.ts';
import { postgresOrReason, usePostgres } from '../support/postgres.ts';
import { storeContract } from './contract.ts';

const found = postgresOrReason();
// A test of its own, so a missing PostgreSQL shows in the summary: skipped with the one line
// that installs it, or (CI=true) failed with it.
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);
const skip = found.skip || found.missing || false;

storeContract(
  'PostgreSQL',
  async () => {
    const url = await cluster().database();
    const open = async () => (await openPostgresStorage(url, () => {})).store;
    return { store: await open(), reopen: open };
  },
  { skip },
);
