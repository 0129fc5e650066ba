import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseSpentTokens } from '../../src/pairing/spent-tokens-db.ts';
import { openPostgresStorage } from '../../src/store/postgres.ts';
import { postgresOrReason, usePostgres } from '../support/postgres.ts';

const found = postgresOrReason();
test('finds PostgreSQL', { skip: found.skip }, () => {
  assert.ok(found.bin, found.missing);
});
const cluster = usePostgres(found.bin);

/** Two servers' views of the spent list in one fresh database. */
async function twoServers(t: { after(fn: () => Promise<void>): void }) {
  const url = await cluster().database();
  const opened = [
    await openPostgresStorage(url, () => {}),
    await openPostgresStorage(url, () => {}),
  ];
  t.after(async () => {
    await Promise.all(opened.map(({ store }) => store.close()));
  });
  return opened.map(({ database }) => databaseSpentTokens(database));
}

describe('the spent pairing links in the database', {
  skip: found.skip || found.missing || false,
}, () => {
  test('a link claimed through one server cannot be claimed through another', async (t) => {
    const [a, b] = await twoServers(t);
    const expires = new Date(Date.now() + 600_000);
    assert.equal(await a?.claim('n1', expires), true);
    assert.equal(await b?.claim('n1', expires), false);
    await a?.spend('n1', expires);
    assert.equal(await a?.claim('n1', expires), false);
    assert.equal(await b?.claim('n2', expires), true, 'another link is another matter');
  });

  test('two servers racing with one link: exactly one wins', async (t) => {
    const [a, b] = await twoServers(t);
    const expires = new Date(Date.now() + 600_000);
    const wins = await Promise.all([a, b, a, b].map((spent) => spent?.claim('raced', expires)));
    assert.equal(wins.filter(Boolean).length, 1);
  });

  test('a released claim can be claimed again, on any server', async (t) => {
    const [a, b] = await twoServers(t);
    const expires = new Date(Date.now() + 600_000);
    assert.equal(await a?.claim('n3', expires), true);
    await a?.release('n3');
    assert.equal(await b?.claim('n3', expires), true);
  });

  test('a link past its expiry is forgotten when the next is claimed', async (t) => {
    const [a, b] = await twoServers(t);
    assert.equal(await a?.claim('old', new Date(Date.now() - 1000)), true);
    // Refused links never reach the list (the token check refuses them first); here it shows the
    // row was dropped: the nonce can be claimed anew.
    assert.equal(await b?.claim('old', new Date(Date.now() + 600_000)), true);
  });
});
