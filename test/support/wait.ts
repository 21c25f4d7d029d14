/** Bounded polling for tests that wait on a browser, a daemon or a network namespace. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `probe` every 100 ms until it returns a value; throws naming `what` after `ms`. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
