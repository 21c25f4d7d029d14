/**
 * DNS analyzer counters and limits. Counters are plain numbers on one monomorphic object so the
 * hot path bumps them with `c.x++`; `snapshot()` gives the stable dotted names (documented in
 * ./README.md) only when someone asks.
 */

export interface DnsLimits {
  /** Answers kept per message in DnsMessageInfo.answers; the rest are counted, not kept. */
  dnsMaxAnswers: number;
  /**
   * QDCOUNT above this fails the header pre-check (NOT_MINE). Unicast DNS carries one question
   * (RFC 1035 §4.1.2 allows more, nobody sends them); mDNS queries may carry several (RFC 6762 §5.3).
   */
  dnsMaxQuestions: number;
  /** Largest DNS-over-TCP message the framer buffers (RFC 7766 §8: at most 65535 by construction). */
  dnsTcpMaxMessageBytes: number;
}

export const DEFAULT_DNS_LIMITS: Readonly<DnsLimits> = Object.freeze({
  dnsMaxAnswers: 64,
  dnsMaxQuestions: 64,
  dnsTcpMaxMessageBytes: 65535,
});

/** Merges partial settings over the defaults; non-positive / non-integer values fall back. */
export function dnsLimits(partial?: Partial<DnsLimits>): DnsLimits {
  const pick = (v: number | undefined, d: number, max: number): number =>
    v !== undefined && Number.isInteger(v) && v > 0 ? Math.min(v, max) : d;
  return {
    dnsMaxAnswers: pick(partial?.dnsMaxAnswers, DEFAULT_DNS_LIMITS.dnsMaxAnswers, 65535),
    dnsMaxQuestions: pick(partial?.dnsMaxQuestions, DEFAULT_DNS_LIMITS.dnsMaxQuestions, 65535),
    dnsTcpMaxMessageBytes: pick(partial?.dnsTcpMaxMessageBytes, DEFAULT_DNS_LIMITS.dnsTcpMaxMessageBytes, 65535),
  };
}

export class DnsCounters {
  /** Messages parsed (ParseStatus.OK), all transports and protocols. */
  messages = 0;
  /** OK messages with QR = 0. */
  queries = 0;
  /** OK messages with QR = 1. */
  responses = 0;
  /** OK messages seen as mDNS (port 5353, RFC 6762). */
  mdns = 0;
  /** OK messages seen as LLMNR (port 5355, RFC 4795). */
  llmnr = 0;
  /** OK messages seen over TCP (RFC 7766). */
  tcp = 0;
  /** OK messages with opcode UPDATE (RFC 2136): the zone is the query; prerequisites are not answers. */
  updates = 0;
  /** Header plausible but the message does not decode (truncated, bad name, bad pointer, ...). */
  malformed = 0;
  /** Subset of `malformed`: shorter than the 12-byte header or than its counts require. */
  truncated = 0;
  /** Header pre-check failed (unassigned opcode, absurd QDCOUNT): not DNS on a DNS port. */
  notDns = 0;
  /** Answers beyond dnsMaxAnswers, counted and dropped. */
  answersDropped = 0;
  /** TXT answers skipped (content not kept). */
  answersTxtSkipped = 0;
  /** Answers whose RDATA did not match its type (e.g. A with RDLENGTH ≠ 4); kept without data. */
  answersBadRdata = 0;
  /** Complete length-prefixed messages produced by the TCP framer. */
  tcpFrames = 0;
  /** TCP segments that left the framer waiting for more bytes. */
  tcpNeedMore = 0;
  /** TCP messages longer than dnsTcpMaxMessageBytes, skipped without buffering. */
  tcpOversize = 0;
  /** TCP streams given up after a sequence gap (no way to find the next length prefix). */
  tcpDesync = 0;

  snapshot(): Record<string, number> {
    return {
      'dns.messages': this.messages,
      'dns.queries': this.queries,
      'dns.responses': this.responses,
      'dns.mdns': this.mdns,
      'dns.llmnr': this.llmnr,
      'dns.tcp': this.tcp,
      'dns.update': this.updates,
      'dns.malformed': this.malformed,
      'dns.malformed.truncated': this.truncated,
      'dns.not_dns': this.notDns,
      'dns.answers.dropped': this.answersDropped,
      'dns.answers.txt_skipped': this.answersTxtSkipped,
      'dns.answers.bad_rdata': this.answersBadRdata,
      'dns.tcp.frames': this.tcpFrames,
      'dns.tcp.need_more': this.tcpNeedMore,
      'dns.tcp.oversize': this.tcpOversize,
      'dns.tcp.desync': this.tcpDesync,
    };
  }
}
