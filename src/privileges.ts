/**
 * In-process privilege drop (runAsUser): the daemon opens its capture as root (CAP_NET_RAW),
 * then hands its data to the unprivileged user and switches to it. Sockets and files already open
 * (pcap handles, LMDB environments, the API listener) keep working; only new opens are checked
 * against the new identity.
 *
 * Order matters: supplementary groups and the gid are changed while still root, the uid last
 * (after setuid a process can no longer change its groups).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { extname, join } from 'node:path';
import { open as lmdbOpen, type Key, type RootDatabase } from 'lmdb';
import { OutpostError } from './errors.js';

export interface UserIds { user: string; uid: number; gid: number }

/** uid and primary gid of a user name (or numeric uid), through NSS (`id`). */
export function resolveUser(user: string): UserIds {
  const ask = (flag: string): number => {
    const out = execFileSync('id', [flag, '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    const n = Number(out);
    if (!Number.isInteger(n) || n < 0) {
      const reason = `id ${flag} ${user} printed ${JSON.stringify(out)}`;
      throw new OutpostError('LIFECYCLE_PRIVILEGE_DROP_FAILED', { user, step: 'lookup', reason }, { message: reason });
    }
    return n;
  };
  return { user, uid: ask('-u'), gid: ask('-g') };
}

/** chown -R without following symbolic links; returns how many entries were changed. */
export function chownTree(path: string, uid: number, gid: number): number {
  let n = 0;
  const walk = (p: string): void => {
    const st = lstatSync(p);
    // lchown: a link is handed over itself, never its target (which may be anywhere).
    lchownSync(p, uid, gid);
    n++;
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  // The configured directory itself may be a link to the real one: that one is handed over.
  if (existsSync(path)) walk(realpathSync(path));
  return n;
}

/**
 * Hands `dirs` (recursively) and `configFile` (the file only, so SIGHUP can read it) to `user`,
 * then setgroups/setgid/setuid to it. Throws LIFECYCLE_PRIVILEGE_DROP_FAILED and leaves the
 * process as it was if any step before setuid fails.
 */
export function dropPrivileges(user: string, dirs: readonly string[], configFile?: string): UserIds & { chowned: number } {
  const fail = (step: string, err: unknown): never => {
    const reason = err instanceof Error ? err.message : String(err);
    throw new OutpostError('LIFECYCLE_PRIVILEGE_DROP_FAILED', { user, step, reason }, { details: { user, step, reason }, cause: err });
  };
  let ids: UserIds;
  try { ids = resolveUser(user); } catch (err) { return fail('lookup', err); }
  if (ids.uid === 0) fail('lookup', new Error('runAsUser resolves to uid 0 (root): nothing would be dropped'));
  let chowned = 0;
  try {
    for (const d of new Set(dirs)) chowned += chownTree(d, ids.uid, ids.gid);
    if (configFile !== undefined) { chownSync(configFile, ids.uid, ids.gid); chowned++; }
  } catch (err) { fail('chown', err); }
  try {
    process.setgroups?.([ids.gid]);
    process.setgid?.(ids.gid);
    process.setuid?.(ids.uid);
  } catch (err) { fail('setuid', err); }
  if (process.getuid?.() !== ids.uid || process.geteuid?.() !== ids.uid || process.getgid?.() !== ids.gid) {
    fail('verify', new Error(`still uid ${process.getuid?.()} euid ${process.geteuid?.()} gid ${process.getgid?.()}`));
  }
  return { ...ids, chowned };
}

/**
 * Creates a store's directory owner-only (0700) whatever the process umask, before the store
 * opens it: LMDB creates its files with the umask's modes, and these stores hold agent secrets,
 * pseudonym keys' mappings, queued events and DNS answers. Call restrictStoreFiles after opening.
 */
export function prepareStoreDir(path: string): void {
  // lmdb-js opens a path with an extension as a single file (noSubdir): nothing to create then.
  if (extname(path) !== '') return;
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}

/** Owner-only modes (0700 directory, 0600 files) for an opened store. Best effort on filesystems without modes. */
export function restrictStoreFiles(path: string): void {
  try {
    chmodSync(path, 0o700);
    for (const f of readdirSync(path)) chmodSync(join(path, f), 0o600);
  } catch {
    // A file path (noSubdir) or a filesystem without modes: the directory's own mode still holds.
  }
}

/**
 * Opens (creating if needed) an LMDB store that only its owner may read (prepareStoreDir, then
 * restrictStoreFiles), uncompressed. A store that cannot be opened is STORE_OPEN_FAILED naming
 * the path.
 */
export function openPrivateStore<V, K extends Key>(path: string): RootDatabase<V, K> {
  try {
    prepareStoreDir(path);
    const db = lmdbOpen<V, K>({ path, compression: false });
    restrictStoreFiles(path);
    return db;
  } catch (err) {
    throw new OutpostError('STORE_OPEN_FAILED', { path, reason: (err as Error).message }, { details: { path }, cause: err });
  }
}
