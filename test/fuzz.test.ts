/**
 * The property-based fuzz scripts of every protocol parser, at a CI-sized count. Each script
 * exits non-zero on the first exception (or broken invariant) and otherwise ends with a
 * FUZZ_RESULT line (test/support/fuzz-result.ts): the inputs it ran and its tallies. The test checks the
 * number of inputs run, zero exceptions, and — for the default count and seed, where fast-check
 * and the scripts are deterministic — every tally exactly, so a generator that stops reaching a
 * parser path, or a parser whose verdicts change, is seen. The full runs (1,000,000 inputs
 * each) are `node --import tsx test/fuzz/<name>.ts 1000000` (or
 * `npm run fuzz:<name> -- 1000000`); docs/FUZZING.md lists them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { FuzzResult } from './support/fuzz-result.js';
import { FUZZ_TARGETS } from './fuzz/targets.js';

const DEFAULT_COUNT = 3000;
const SEED = 12345;
const COUNT = Number(process.env.OUTPOST_FUZZ_COUNT ?? DEFAULT_COUNT);

const SCRIPTS: Array<[string, string]> = FUZZ_TARGETS.map((t) => [t.name, t.script]);

/**
 * What each script reports for 3000 inputs and seed 12345 (fast-check 4.10.2). A change of a
 * generator or of a parser's verdicts changes these on purpose: rerun the script with
 * `3000 12345` and copy its FUZZ_RESULT counters here, after reading what moved.
 */
const PINNED: Record<string, { runs: number; counters: Record<string, number> }> = {
  tls: {
    runs: 3000,
    counters: {
      'parseCertificateNames.malformed': 5972, 'parseCertificateNames.ok': 28,
      'parseClientHello.malformed': 706, 'parseClientHello.need_more': 672, 'parseClientHello.not_mine': 4542,
      'parseClientHello.ok': 80, 'parseClientHelloHandshake.malformed': 248,
      'parseClientHelloHandshake.need_more': 1447, 'parseClientHelloHandshake.not_mine': 4161,
      'parseClientHelloHandshake.ok': 144, 'parseServerFlight.malformed': 642,
      'parseServerFlight.need_more': 302, 'parseServerFlight.not_mine': 4968, 'parseServerFlight.ok': 88,
      'parseServerHelloHandshake.malformed': 133, 'parseServerHelloHandshake.need_more': 473,
      'parseServerHelloHandshake.not_mine': 5104, 'parseServerHelloHandshake.ok': 290, 'random_buffers': 3000,
      'stream.prefix_overflow': 97, 'stream.prefix_overlap': 184,
    },
  },
  quic: {
    runs: 3000,
    counters: {
      'quic.cid_too_long': 240, 'quic.client_hello_complete': 2759, 'quic.coalesced_dcid_mismatch': 668,
      'quic.coalesced_short_header': 1170, 'quic.crypto_bytes': 936029, 'quic.crypto_frames': 7543,
      'quic.datagrams': 8659, 'quic.header_truncated': 2206, 'quic.initial_decrypt_failed': 3692,
      'quic.initial_decrypted': 7543, 'quic.initial_packets': 11277, 'quic.initial_too_short': 42,
      'quic.long_packets': 12145, 'quic.not_client_hello': 152, 'quic.not_long_header': 42,
      'quic.other_long_packets': 6, 'quic.retry_packets': 4, 'quic.trailing_padding': 2570,
      'quic.unsupported_version': 190, 'quic.version_changed': 1089,
    },
  },
  http: {
    runs: 3000,
    counters: {
      'http.chunk_malformed': 71, 'http.content_length_invalid': 7, 'http.header_control_in_value': 40,
      'http.header_malformed': 284, 'http.header_name_invalid': 90, 'http.header_obs_fold': 11,
      'http.header_too_long': 1, 'http.host_malformed': 87, 'http.host_missing': 157,
      'http.method_extension': 405, 'http.not_http': 1308, 'http.request_head_cut': 60, 'http.request_line_lenient': 32,
      'http.request_line_malformed': 223, 'http.request_target_malformed': 79, 'http.request_target_nul': 2, 'http.requests': 1625,
      'http.response_unmatched': 15, 'http.responses': 460, 'http.status_line_malformed': 1329,
      'http.transfer_encoding_invalid': 10, 'http.tunnels': 34, 'http.version_malformed': 28,
      'runs.arbitrary_bytes': 1200, 'runs.model_pipelines': 900, 'runs.mutations': 900,
    },
  },
  dns: {
    runs: 3000,
    counters: {
      'dns.answers.bad_rdata': 9, 'dns.answers.dropped': 278, 'dns.answers.txt_skipped': 1936,
      'dns.llmnr': 699, 'dns.malformed': 5740, 'dns.malformed.truncated': 1838, 'dns.mdns': 836,
      'dns.messages': 2220, 'dns.not_dns': 468, 'dns.queries': 1203, 'dns.responses': 1017, 'dns.tcp': 311,
      'dns.tcp.frames': 2428, 'dns.tcp.need_more': 2252, 'dns.update': 6, 'mutated_ok': 311,
      'update_twins_ok': 658,
    },
  },
  devices: {
    runs: 3000,
    counters: {
      'devices.address_moved': 211, 'devices.bindings_dropped': 9, 'devices.evicted': 347,
      'devices.link_conflicts': 20, 'devices.mac_linked': 28, 'devices.merged': 1, 'events': 38195,
      'packets': 36092,
    },
  },
  kerberos: {
    runs: 3000,
    counters: {
      'framer_records': 3000, 'kerberos.ap_req': 212, 'kerberos.as_rep': 106, 'kerberos.as_req': 91,
      'kerberos.bad_der': 269, 'kerberos.bad_name': 196, 'kerberos.bad_structure': 275, 'kerberos.krb_error': 201,
      'kerberos.messages': 823, 'kerberos.not_kerberos': 89, 'kerberos.tgs_rep': 90, 'kerberos.tgs_req': 123,
      'kerberos.truncated': 1348, 'parseKerberos.malformed': 2088, 'parseKerberos.not_mine': 89,
      'parseKerberos.ok': 823,
    },
  },
  ntlm: {
    runs: 3000,
    counters: {
      'findGssToken.malformed': 30, 'findGssToken.ok': 392, 'framer_records': 1675, 'ntlm.authenticate': 118,
      'ntlm.bad_av_pairs': 13, 'ntlm.bad_field': 21, 'ntlm.bad_type': 4, 'ntlm.challenge': 115, 'ntlm.messages': 324,
      'ntlm.negotiate': 91, 'ntlm.smb.bad_buffer': 284, 'ntlm.smb.session_setups': 500, 'ntlm.smb.truncated': 120,
      'parseDcePdu.malformed': 319, 'parseDcePdu.not_mine': 100, 'parseDcePdu.ok': 538,
      'parseLdapBind.malformed': 549, 'parseLdapBind.not_mine': 10, 'parseLdapBind.ok': 439,
      'parseNtlmssp.any_offset.malformed': 2, 'parseNtlmssp.any_offset.not_mine': 1041,
      'parseNtlmssp.any_offset.ok': 2, 'parseNtlmssp.dce.malformed': 24, 'parseNtlmssp.dce.not_mine': 189,
      'parseNtlmssp.dce.ok': 300, 'parseNtlmssp.ldap.malformed': 74, 'parseNtlmssp.ldap.not_mine': 40,
      'parseNtlmssp.ldap.ok': 321, 'parseNtlmssp.malformed': 38, 'parseNtlmssp.ok': 324,
      'parseSmb2SessionSetup.malformed': 404, 'parseSmb2SessionSetup.not_mine': 141, 'parseSmb2SessionSetup.ok': 500,
    },
  },
  radius: {
    runs: 3000,
    counters: {
      'parseRadius.malformed': 1600, 'parseRadius.not_mine': 253, 'parseRadius.ok': 1147, 'radius.accounting_requests': 518,
      'radius.accounting_responses': 629, 'radius.bad_attribute': 252, 'radius.bad_length': 140, 'radius.messages': 1147,
      'radius.not_radius': 253, 'radius.truncated': 1208, 'verified': 336,
    },
  },
};

for (const [name, script] of SCRIPTS) {
  test(`${name} parsers survive ${COUNT} fuzzed inputs`, { timeout: 120_000 }, (t) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, String(COUNT), String(SEED)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} fuzz failed:\n${r.stdout}\n${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('FUZZ_RESULT '));
    assert.ok(line, `${name}: no FUZZ_RESULT line in\n${r.stdout}`);
    const result = JSON.parse(line.slice('FUZZ_RESULT '.length)) as FuzzResult;
    assert.equal(result.fuzzer, name);
    assert.equal(result.seed, SEED);
    assert.equal(result.exceptions, 0);
    // HTTP splits its count over three properties (40/30/30 %, rounded).
    assert.equal(result.runs, name === 'http' ? Math.max(1, Math.round(COUNT * 0.4)) + 2 * Math.max(1, Math.round(COUNT * 0.3)) : COUNT);
    if (COUNT === DEFAULT_COUNT) {
      assert.equal(result.runs, PINNED[name]!.runs);
      assert.deepEqual(result.counters, PINNED[name]!.counters);
    } else {
      t.diagnostic(`${name}: OUTPOST_FUZZ_COUNT=${COUNT}, tallies pinned only for ${DEFAULT_COUNT}`);
    }
  });
}
