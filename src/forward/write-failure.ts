import { statfsSync } from 'node:fs';

/**
 * A readable reason for a failed commit. lmdb-js rejects with a generic "Commit failed" whose
 * `commitError` promise holds the LMDB/system error (a full tmpfs shows as EIO, not ENOSPC), so
 * that is awaited (which also keeps it from being an unhandled rejection) and the free space of
 * the file system is added: "0 bytes free" says "disk full" better than the errno.
 */
export async function writeFailureReason(err: unknown, path: string): Promise<string> {
  let inner: unknown = err;
  const ce = (err as { commitError?: unknown } | null)?.commitError;
  if (ce instanceof Promise) {
    let timer: NodeJS.Timeout | undefined;
    inner = await Promise.race([
      ce.then(() => err, (e: unknown) => e),
      new Promise((r) => (timer = setTimeout(() => r(err), 100))),
    ]);
    clearTimeout(timer);
  }
  let reason = inner instanceof Error ? inner.message : String(inner);
  const errno = (inner as { code?: unknown } | null)?.code;
  if (errno !== undefined) reason += ` (code ${String(errno)})`;
  try {
    const fs = statfsSync(path);
    const free = fs.bavail * fs.bsize;
    reason += `; ${free} of ${fs.blocks * fs.bsize} bytes free on its file system${free < 1024 * 1024 ? ' (disk full?)' : ''}`;
  } catch {
    // no file system figures: the LMDB reason alone
  }
  return reason;
}
