// One server and one browser per test file: started before its tests, stopped after them.
import { after, before } from 'node:test';
import { launchBrowser } from './browser.mjs';
import { startServer } from './server.mjs';

/** Per-test time limit; pass as the options of `test(name, TEST, fn)`. */
export const TEST = { timeout: 60_000 };

/**
 * Registers the file's before/after hooks; returns an object whose `server` and `browser` are set
 * once the tests run. `options` go to `startServer` (e.g. `{ accounts }`).
 */
export function setup(options = {}) {
  const env = { server: null, browser: null };
  before(async () => {
    const [s, b] = await Promise.allSettled([startServer(options), launchBrowser()]);
    env.server = s.value ?? null;
    env.browser = b.value ?? null;
    for (const r of [s, b]) if (r.status === 'rejected') throw r.reason;
  }, TEST);
  after(async () => {
    await Promise.allSettled([env.browser?.close(), env.server?.stop()]);
  }, TEST);
  return env;
}
