import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chownTree, dropPrivileges, resolveUser } from './privileges.js';
import { isOutpostError } from './errors.js';

test('an unknown user or root is refused before anything changes', () => {
  const uid = process.getuid?.();
  for (const [user, step] of [['no-such-user-outpost-x1', 'lookup'], ['root', 'lookup']] as const) {
    assert.throws(() => dropPrivileges(user, []), (err: unknown) => {
      assert.ok(isOutpostError(err, 'LIFECYCLE_PRIVILEGE_DROP_FAILED'));
      assert.equal((err as { details?: { step?: string } }).details?.step, step);
      return true;
    });
  }
  assert.equal(process.getuid?.(), uid, 'still the same user');
});

test('resolveUser reads uid and primary gid; chownTree does not follow symbolic links', { skip: process.getuid?.() !== 0 ? 'chown needs root' : false }, () => {
  const root = resolveUser('root');
  assert.deepEqual(root, { user: 'root', uid: 0, gid: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'outpost-chown-'));
  try {
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'x');
    mkdirSync(join(dir, 'data', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'data', 'sub', 'f'), 'y');
    symlinkSync(outside, join(dir, 'data', 'link'));
    assert.equal(chownTree(join(dir, 'data'), 65534, 65534), 4);
    assert.equal(statSync(join(dir, 'data', 'sub', 'f')).uid, 65534);
    assert.equal(statSync(outside).uid, 0, 'the link target is untouched');
    assert.equal(chownTree(join(dir, 'missing'), 65534, 65534), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
