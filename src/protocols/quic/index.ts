/**
 * QUIC as a registered flow analyzer: claims a UDP flow on a client Initial (long header,
 * RFC 9000 §17.2, padded to at least 1200 bytes, §14.1), decrypts the client's Initials
 * (RFC 9001 §5) and names the flow by the ClientHello's SNI. Google QUIC before Q046 sends its
 * CHLO in clear: the probe names such a flow by itself. ClientHellos found here are counted
 * with TLS's counters (tls.client_hellos), which this analyzer borrows.
 */
import { QuicFlowState } from './analyzer.js';
import { QuicCounters } from './counters.js';
import { ChloInfo, findChlo, parseChlo } from './gquic-chlo.js';
import { TlsCounters } from '../tls/counters.js';
import type { TlsResult } from '../tls/analyzer.js';
import { ClientHello, parseClientHelloHandshake } from '../tls/client-hello.js';
import { ja4 } from '../tls/ja4.js';
import { ParseStatus } from '../parse-status.js';
import {
  Feed, Probe, TRANSPORT_UDP,
  type FlowAnalyzer, type FlowAnalyzerEnv, type FlowContext, type PacketContext, type ProtocolDescriptor,
} from '../protocol.js';

export class QuicAnalyzer implements FlowAnalyzer<QuicFlowState> {
  readonly name = 'quic';
  readonly transports = TRANSPORT_UDP;
  readonly probeEmpty = false;
  readonly everyPacket = false;
  readonly quicCounters: QuicCounters;
  private readonly tlsCounters: TlsCounters;
  private readonly clientHello = new ClientHello();
  private readonly chlo = new ChloInfo();
  private readonly fingerprints: boolean;

  constructor(env: FlowAnalyzerEnv) {
    this.fingerprints = env.settings.fingerprints !== false;
    this.quicCounters = env.counters.get(QuicCounters);
    this.tlsCounters = env.counters.get(TlsCounters);
  }

  probe(pc: PacketContext, ctx: FlowContext): Probe {
    const buf = pc.buf, off = pc.p.payloadOffset, len = pc.p.payloadLength;
    // A client Initial: its sender is the QUIC client even when the capture caught a server
    // packet first.
    if (len >= 1200 && (buf[off]! & 0x80) !== 0) return pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED;
    // Google QUIC before Q046: no long header, but a CHLO in clear, padded to a full datagram.
    if (len >= 1000 && this.gquicClearChlo(ctx, buf, off, off + len)) return Probe.FINISHED;
    // Not (yet) a handshake datagram.
    return Probe.NOT_YET;
  }

  start(): QuicFlowState {
    return new QuicFlowState(this.quicCounters);
  }

  /** Only the client's datagrams carry the ClientHello. */
  feed(q: QuicFlowState, pc: PacketContext, ctx: FlowContext): Feed {
    if (!pc.fromClient) return Feed.CONTINUE;
    const off = pc.p.payloadOffset, len = pc.p.payloadLength;
    q.onClientDatagram(pc.buf, off, len);
    if (q.clientHelloComplete) {
      this.clientHelloFound(q, ctx);
      return Feed.STOP;
    }
    if (q.done) {
      // A version whose Initials we cannot open: Q046 sends its CHLO in clear.
      this.gquicClearChlo(ctx, pc.buf, off, off + len);
      return Feed.STOP;
    }
    return Feed.CONTINUE;
  }

  isDone(q: QuicFlowState): boolean { return q.done; }

  /** Findings are written as soon as they are known (feed, probe). */
  contribute(): void {}

  counters(): Record<string, number> { return this.quicCounters.snapshot(); }

  /** Google QUIC CHLO in clear (Q043, Q046): its SNI tag names the flow. */
  private gquicClearChlo(ctx: FlowContext, buf: Buffer, off: number, end: number): boolean {
    const at = findChlo(buf, off, end);
    if (at < 0) return false;
    if (parseChlo(buf, at, end, this.chlo) !== ParseStatus.OK || this.chlo.sni === '') return false;
    const f = ctx.findings;
    f.hostname = this.chlo.sni;
    f.hostnameSource = 'quic';
    f.quicVersion = f.quicVersion ?? gquicVersion(buf, off, end);
    return true;
  }

  private clientHelloFound(q: QuicFlowState, ctx: FlowContext): void {
    const crypto = q.result.cryptoStream;
    const f = ctx.findings;
    if (q.result.versionName !== undefined) f.quicVersion = q.result.versionName;
    if (crypto === undefined) return;
    if (!q.tls) {
      // Q050: the decrypted CRYPTO stream holds a gQUIC CHLO, not a TLS ClientHello.
      if (parseChlo(crypto, 0, crypto.length, this.chlo) === ParseStatus.OK && this.chlo.sni !== '') {
        f.hostname = this.chlo.sni;
        f.hostnameSource = 'quic';
      }
      return;
    }
    const ch = this.clientHello;
    if (parseClientHelloHandshake(crypto, 0, crypto.length, ch) === ParseStatus.OK) {
      this.tlsCounters.clientHellos++;
      const tls: TlsResult = { ech: ch.hasEch };
      if (ch.hasSni && ch.serverName !== '') tls.sni = ch.serverName;
      if (ch.hasAlpn) tls.alpn = [...ch.alpn];
      if (this.fingerprints) tls.ja4 = ja4(ch, 'q');
      f.tls = tls;
      if (tls.sni !== undefined) { f.hostname = tls.sni; f.hostnameSource = 'quic'; }
    } else {
      this.tlsCounters.countError(ch.error);
    }
  }
}

/** "Q0xx" version tag of a gQUIC packet (public header flag 0x01, or a long header), if any. */
function gquicVersion(buf: Buffer, off: number, end: number): string | undefined {
  for (const at of [off + 1, off + 9]) {
    if (at + 4 <= end && buf[at] === 0x51 && buf[at + 1]! >= 0x30 && buf[at + 1]! <= 0x39) return buf.toString('latin1', at, at + 4);
  }
  return undefined;
}

export const quic: ProtocolDescriptor = {
  name: 'quic',
  flow: (env) => new QuicAnalyzer(env),
};
