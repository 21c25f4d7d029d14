/**
 * The hooks the sensor offers to what consumes packets and protocol results beyond flows and
 * events (device identity): defined here, below every consumer, so a consumer implements them
 * without importing the sensor that calls them.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import type { InspectedDnsCallback } from './protocol.js';
import type { HttpRequestRecord } from './http/analyzer.js';
import type { LogonSeen } from './logon.js';

/**
 * Sees packets the flow pipeline does not interpret itself (device identity: DHCP, ARP, NDP,
 * mDNS). Called synchronously per packet: implementations must be cheap when the packet is not
 * theirs (check ports / ethertype first) and must not keep `buf` beyond the call.
 */
export interface PacketObserver {
  /** Decoded IP packets (after flow accounting); `p` is reused for the next packet. */
  onIpPacket?(p: DecodedPacket, buf: Buffer, tsUs: number): void;
  /** Frames the decoder reports as not IP (ARP, LLDP, ...), with their link type. */
  onNonIpFrame?(buf: Buffer, offset: number, capLen: number, linkType: number, tsUs: number): void;
  /**
   * mDNS / LLMNR datagrams as the inspector parsed them, during the same packet and before
   * onIpPacket: an observer that would parse them again takes this parse instead
   * (protocols/local.ts, the local-protocol dispatcher).
   */
  onInspectedDns?: InspectedDnsCallback;
}

/**
 * Sees each HTTP request a flow carried when the flow ends, whether or not HTTP Activity events are
 * emitted (device identity learns OS hints from User-Agents this way). `clientIp` is the flow's
 * client, `atMs` the flow's end.
 */
export type HttpRequestObserver = (request: HttpRequestRecord, clientIp: string, atMs: number) => void;

/**
 * Sees each logon record the Kerberos, NTLM and RADIUS analyzers hand on (src/protocols/logon.ts),
 * whether or not Authentication events are emitted (device identity binds users to devices this
 * way). Called once per logon attempt, after its Authentication event when one is emitted.
 */
export type LogonObserver = (logon: LogonSeen) => void;
