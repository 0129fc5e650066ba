import type { Database } from '../store/postgres/database.ts';
import type { SpentTokens } from './spent-tokens.ts';

/**
 * The spent list in the database, shared by every server on it: a link used through one server is
 * refused by all the others. A claim is the row itself, so two servers racing with one link
 * cannot both win; expired rows are dropped as new ones come.
 */
export function databaseSpentTokens(database: Database): SpentTokens {
  const { query } = database;
  return {
    async claim(nonce, expiresAt) {
      await query('DELETE FROM web_push.spent_pairing_tokens WHERE expires_at <= now()');
      const rows = await query(
        `INSERT INTO web_push.spent_pairing_tokens (nonce, expires_at) VALUES ($1, $2)
         ON CONFLICT (nonce) DO NOTHING RETURNING 1`,
        [nonce, expiresAt],
      );
      return rows.length === 1;
    },
    async release(nonce) {
      await query('DELETE FROM web_push.spent_pairing_tokens WHERE nonce = $1', [nonce]);
    },
    // Claimed is stored: nothing more to write.
    async spend() {},
  };
}
