import { ConfigError } from '../errors.ts';
import { readIfExists, writeFileAtomic } from '../store/file/files.ts';

/**
 * The pairing tokens already used, by nonce, each kept until it would have expired anyway. Kept
 * on disk (or in the database, shared by every server): a restart within the 10 minutes must not
 * make a spent link pair a second device.
 */
export interface SpentTokens {
  /** Claims `nonce` for one subscribe in flight: false when it is spent or claimed already. */
  claim(nonce: string, expiresAt: Date): Promise<boolean>;
  /** Gives a claim back: the subscribe failed, so the token was not used. */
  release(nonce: string): Promise<void>;
  /** Marks a claimed nonce spent until `expiresAt`, and saves the list. */
  spend(nonce: string, expiresAt: Date): Promise<void>;
}

/** Opens the list in `file` (mode 0600; a missing file is empty); `now` is the clock. */
export async function openSpentTokens(
  file: string,
  now: () => number = Date.now,
): Promise<SpentTokens> {
  const spent = new Map<string, number>(Object.entries(parse(file, await readIfExists(file))));
  const claimed = new Set<string>();
  let saving: Promise<void> = Promise.resolve();

  const prune = () => {
    for (const [nonce, expiresAt] of spent) if (expiresAt <= now()) spent.delete(nonce);
  };

  return {
    async claim(nonce) {
      prune();
      if (spent.has(nonce) || claimed.has(nonce)) return false;
      claimed.add(nonce);
      return true;
    },
    async release(nonce) {
      claimed.delete(nonce);
    },
    async spend(nonce, expiresAt) {
      spent.set(nonce, expiresAt.getTime());
      claimed.delete(nonce);
      prune();
      // One write at a time, each with the whole list as it is then.
      saving = saving
        .catch(() => {})
        .then(() => writeFileAtomic(file, `${JSON.stringify(Object.fromEntries(spent))}\n`, 0o600));
      await saving;
    },
  };
}

function parse(file: string, text: string | undefined): Record<string, number> {
  if (text === undefined || text.trim() === '') return {};
  try {
    const data: unknown = JSON.parse(text);
    if (data && typeof data === 'object' && !Array.isArray(data)) {
      const entries = Object.entries(data).filter(([, at]) => Number.isFinite(at));
      return Object.fromEntries(entries) as Record<string, number>;
    }
  } catch {}
  throw new ConfigError(
    `${file} is not a list of used pairing links; remove it (links used in the last 10 minutes then work once more)`,
  );
}
