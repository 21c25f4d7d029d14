import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { DnsNameCache } from './name-cache.js';
import { DnsMessageInfo, parseDnsMessage } from './message.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import { mulberry32 } from '../../../test/support/prng.js';

const T0 = 1_700_000_000_000;

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'outpost-dns-cache-'));
}

test('TTL clamped to [floor, cap]', () => {
  const c = new DnsNameCache({ dnsTtlFloorMs: 60_000, dnsTtlCapMs: 3_600_000 });
  c.record('10.0.0.5', 'short.example', '1.1.1.1', 5, T0);
  c.record('10.0.0.5', 'long.example', '2.2.2.2', 7 * 86400, T0);
  c.record('10.0.0.5', 'zero.example', '3.3.3.3', 0, T0);
  assert.equal(c.lookup('10.0.0.5', '1.1.1.1', T0 + 59_999)?.name, 'short.example'); // floor, not 5 s
  assert.equal(c.lookup('10.0.0.5', '1.1.1.1', T0 + 60_000), undefined);
  assert.equal(c.lookup('10.0.0.5', '3.3.3.3', T0 + 30_000)?.name, 'zero.example');
  assert.equal(c.lookup('10.0.0.5', '2.2.2.2', T0 + 3_599_999)?.expiresMs, T0 + 3_600_000); // cap
  assert.equal(c.lookup('10.0.0.5', '2.2.2.2', T0 + 3_600_000), undefined);
  assert.equal(c.counters.misses, 2);
});

test('defaults: 60 s floor, 24 h cap, 200000 entries', () => {
  const c = new DnsNameCache();
  assert.equal(c.settings.dnsTtlFloorMs, 60_000);
  assert.equal(c.settings.dnsTtlCapMs, 86_400_000);
  assert.equal(c.settings.dnsCacheMaxEntries, 200_000);
});

test('most recent resolution at or before t; not one made after t', () => {
  const c = new DnsNameCache();
  c.record('10.0.0.5', 'a.example', '9.9.9.9', 600, T0);
  c.record('10.0.0.5', 'b.example', '9.9.9.9', 600, T0 + 10_000);
  c.record('10.0.0.5', 'c.example', '9.9.9.9', 600, T0 + 20_000);
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0 - 1), undefined);
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0)?.name, 'a.example');
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0 + 15_000)?.name, 'b.example');
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0 + 25_000)?.name, 'c.example');
  // a.example re-resolved later: it is now the most recent after that time, and before it c is.
  c.record('10.0.0.5', 'a.example', '9.9.9.9', 600, T0 + 30_000);
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0 + 31_000)?.name, 'a.example');
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0 + 25_000)?.name, 'c.example');
  // expiry of c (600 s after T0+20 s) leaves the others
  assert.equal(c.lookup('10.0.0.5', '9.9.9.9', T0 + 620_000)?.name, 'a.example');
});

test("falls back to another client's resolution, flagged", () => {
  const c = new DnsNameCache();
  c.record('10.0.0.7', 'shared.example', '8.8.4.4', 300, T0);
  const own = c.lookup('10.0.0.7', '8.8.4.4', T0 + 1);
  assert.equal(own?.otherClient, false);
  const other = c.lookup('10.0.0.9', '8.8.4.4', T0 + 1);
  assert.equal(other?.name, 'shared.example');
  assert.equal(other?.otherClient, true);
  assert.equal(c.counters.hitsOtherClient, 1);
  c.record('10.0.0.9', 'mine.example', '8.8.4.4', 300, T0 + 2);
  assert.deepEqual(c.lookup('10.0.0.9', '8.8.4.4', T0 + 3)?.name, 'mine.example');
});

test('bound: LRU eviction counted, lookups refresh recency', () => {
  const c = new DnsNameCache({ dnsCacheMaxEntries: 3 });
  c.record('c', 'n1', '1.0.0.1', 300, T0);
  c.record('c', 'n2', '1.0.0.2', 300, T0);
  c.record('c', 'n3', '1.0.0.3', 300, T0);
  assert.ok(c.lookup('c', '1.0.0.1', T0 + 1)); // n1 now most recent
  c.record('c', 'n4', '1.0.0.4', 300, T0 + 2); // evicts n2
  assert.equal(c.size, 3);
  assert.equal(c.counters.evicted, 1);
  assert.equal(c.lookup('c', '1.0.0.2', T0 + 3), undefined);
  assert.ok(c.lookup('c', '1.0.0.1', T0 + 3));
  for (let i = 0; i < 100; i++) c.record('d', `x${i}`, `2.0.0.${i}`, 300, T0 + 10 + i);
  assert.equal(c.size, 3);
  assert.equal(c.counters.evicted, 101);
  assert.equal(c.snapshot()['dns_cache.evicted'], 101);
  assert.equal(c.snapshot()['dns_cache.entries'], 3);
});

test('recordResponse keeps the asked name and the CNAME chain; min TTL along the chain', () => {
  const m = dnsPacket.encode({
    type: 'response',
    id: 1,
    questions: [{ type: 'A', name: 'www.shop.example' }],
    answers: [
      { type: 'CNAME', name: 'www.shop.example', ttl: 3600, data: 'shop.cdn.example' },
      { type: 'CNAME', name: 'shop.cdn.example', ttl: 120, data: 'e1.cdn.example' },
      { type: 'A', name: 'e1.cdn.example', ttl: 7200, data: '203.0.113.10' },
      { type: 'A', name: 'unrelated.example', ttl: 7200, data: '203.0.113.99' },
      { type: 'AAAA', name: 'e1.cdn.example', ttl: 7200, data: '2001:db8::10' },
    ],
  });
  const info = new DnsMessageInfo();
  parseDnsMessage(m, 0, m.length, info);
  const c = new DnsNameCache();
  assert.equal(c.recordResponse('192.168.1.50', info, T0), 2);
  assert.equal(c.counters.unchained, 1);
  const hit = c.lookup('192.168.1.50', '203.0.113.10', T0 + 1000);
  assert.deepEqual({ name: hit?.name, chain: hit?.chain, expiresMs: hit?.expiresMs }, {
    name: 'www.shop.example',
    chain: ['shop.cdn.example', 'e1.cdn.example'],
    expiresMs: T0 + 120_000,
  });
  assert.equal(c.lookup('192.168.1.50', '2001:db8::10', T0)?.name, 'www.shop.example');
  assert.equal(c.lookup('192.168.1.50', '203.0.113.99', T0), undefined);
});

test('persistence across close/open; compact purges expired on disk', async () => {
  const dir = tempDir();
  try {
    const a = new DnsNameCache({ dnsCacheFlushMaxRecords: 2 });
    await a.open(dir);
    a.record('10.1.1.1', 'kept.example', '198.51.100.1', 3600, T0, ['kept.cdn.example']);
    a.record('10.1.1.1', 'expiring.example', '198.51.100.2', 60, T0);
    a.record('10.1.1.2', 'other.example', '198.51.100.3', 3600, T0);
    await a.flush();
    assert.equal(a.pendingWrites, 0);
    await a.close();

    // Reopen "now" = T0 + 30 s: everything still valid.
    const b = new DnsNameCache({ now: () => T0 + 30_000 });
    await b.open(dir);
    assert.equal(b.counters.loaded, 3);
    assert.deepEqual(b.lookup('10.1.1.1', '198.51.100.1', T0 + 1000)?.chain, ['kept.cdn.example']);
    assert.equal(b.lookup('10.1.1.1', '198.51.100.2', T0 + 1000)?.name, 'expiring.example');
    assert.equal(await b.compact(T0 + 120_000), 1);
    await b.close();

    // Reopen with a clock before the expiry: the purged entry is gone from disk all the same.
    const d = new DnsNameCache({ now: () => T0 });
    await d.open(dir);
    assert.equal(d.counters.loaded, 2);
    assert.equal(d.lookup('10.1.1.1', '198.51.100.2', T0 + 1000), undefined);
    assert.equal(d.lookup('10.1.1.2', '198.51.100.3', T0 + 1000)?.name, 'other.example');
    await d.close();

    // Loading after expiry skips (and deletes) stale entries.
    const e = new DnsNameCache({ now: () => T0 + 7_200_000 });
    await e.open(dir);
    assert.equal(e.counters.loaded, 0);
    assert.equal(e.size, 0);
    await e.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eviction is persisted; bound applies on load', async () => {
  const dir = tempDir();
  try {
    const a = new DnsNameCache({ dnsCacheMaxEntries: 5 });
    await a.open(dir);
    for (let i = 0; i < 8; i++) {
      a.record('c', `n${i}`, `10.9.0.${i}`, 3600, T0 + i);
      if (i % 3 === 0) await a.flush(); // some entries reach disk before being evicted
    }
    await a.close();
    const b = new DnsNameCache({ dnsCacheMaxEntries: 3, now: () => T0 + 100 });
    await b.open(dir);
    assert.equal(b.counters.loaded, 5);
    assert.equal(b.size, 3);
    assert.equal(b.counters.evicted, 2);
    assert.deepEqual(
      [5, 6, 7].map((i) => b.lookup('c', `10.9.0.${i}`, T0 + 100)?.name),
      ['n5', 'n6', 'n7'],
    );
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Service lifecycle: start(signal) opens and flushes on a timer, stop() persists', async () => {
  const dir = tempDir();
  try {
    const s = new DnsNameCache({ path: dir, dnsCacheFlushIntervalMs: 20 });
    const ac = new AbortController();
    await s.start(ac.signal);
    s.record('10.2.2.2', 'timer.example', '192.0.2.1', 600, T0);
    assert.equal(s.pendingWrites, 1);
    for (let i = 0; i < 50 && (s.pendingWrites > 0 || s.counters.flushes === 0); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.pendingWrites, 0);
    assert.ok(s.counters.flushes >= 1);
    s.record('10.2.2.2', 'stop.example', '192.0.2.2', 600, T0);
    await s.stop();
    const r = new DnsNameCache({ now: () => T0 });
    await r.open(dir);
    assert.equal(r.size, 2);
    await r.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store that cannot be created is STORE_OPEN_FAILED naming the path', async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    const c = new DnsNameCache();
    await assert.rejects(c.open(path.join(file, 'dns-names')), (e: unknown) => {
      const err = e as { code?: string; message?: string; details?: { path?: string } };
      return err.code === 'STORE_OPEN_FAILED' && err.details?.path === path.join(file, 'dns-names') && /ENOTDIR/.test(err.message ?? '');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mayHoldAddress: never false for a held address, false for most others, false again once evicted', () => {
  const rnd = mulberry32(13);
  const word = (): number => Math.floor(rnd() * 2 ** 32);
  const c = new DnsNameCache({ dnsCacheMaxEntries: 400 });
  type Held = { v4: boolean; w: [number, number, number, number] };
  const held: Held[] = [];
  for (let i = 0; i < 400; i++) {
    let h: Held;
    switch (i % 4) {
      case 0: h = { v4: true, w: [0, 0, 0, word()] }; break;
      case 1: h = { v4: false, w: [word(), word(), word(), word()] }; break;
      // Zero runs ("::") and IPv4-mapped addresses (dotted tail), as ipv6ToString writes them.
      case 2: h = { v4: false, w: [0x20010db8, 0, 0, word() & 0xffff] }; break;
      default: h = { v4: false, w: [0, 0, 0xffff, word()] }; break;
    }
    held.push(h);
    const text = h.v4 ? ipv4ToString(h.w[3]) : ipv6ToString(...h.w);
    c.record('10.0.0.1', `n${i}.example`, text, 300, T0);
  }
  for (const h of held) assert.equal(c.mayHoldAddress(h.v4, ...h.w), true, JSON.stringify(h));
  // Addresses nobody resolved: answered false unless their bucket is shared (65536 buckets).
  let maybe = 0;
  for (let i = 0; i < 4000; i++) if (c.mayHoldAddress(i % 2 === 0, 0, 0, 0, word()) || c.mayHoldAddress(false, word(), word(), word(), word())) maybe++;
  // 400 held buckets of 65536, two lookups a pair: about 49 expected (50 with this seed).
  assert.ok(maybe <= 60, `${maybe} of 4000 pairs not ruled out`);
  // Evicted addresses leave the filter.
  for (let i = 0; i < 400; i++) c.record('10.0.0.1', `m${i}.example`, ipv4ToString(0x0a000000 + i), 300, T0 + 1);
  assert.equal(c.counters.evicted, 400);
  const stillMaybe = held.filter((h) => c.mayHoldAddress(h.v4, ...h.w)).length;
  assert.ok(stillMaybe <= 10, `${stillMaybe} of 400 evicted addresses not ruled out`);
  for (let i = 0; i < 400; i++) assert.equal(c.mayHoldAddress(true, 0, 0, 0, 0x0a000000 + i), true);
});
