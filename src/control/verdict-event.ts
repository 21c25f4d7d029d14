/**
 * A verdict as an OCSF 1.8.0 Network Activity event (class 4001) with the Security Control
 * profile (profiles/security_control.json, included by base_event, so it applies to 4001):
 *
 * - blocked: `action_id` 2 Denied, `disposition_id` 2 Blocked; the activity says how the flow
 *   was stopped: 3 Reset ("closed by a middle device like firewalls", the TCP resets), else 5
 *   Refuse (dropped QUIC, a DNS query answered NXDOMAIN);
 * - denied but not stopped (SPAN mode whose reset could not be injected, enforcement `none`):
 *   `action_id` 2 Denied, `disposition_id` 15 Detected ("a policy violation was detected without
 *   further action"), activity 1 Open: the flow went on, so it is not counted as blocked;
 * - allowed by an exception or an override: `action_id` 1 Allowed, `disposition_id` 1 Allowed,
 *   activity 1 Open, and `message` says which exception or override let it through.
 *
 * The rule that decided is `firewall_rule` (objects/firewall_rule.json, a `rule`: uid, name,
 * type, desc, condition): `type` is the step of the policy (override, exception, rule,
 * sanction, default), `uid` the id of the rule, exception or override (GET /v1/control/...).
 * `policy` (objects/policy.json) names the control policy itself. The verdict's own fields are
 * in `unmapped.control` (verdict, reason, rule_id, name_source).
 *
 * Built per decision that is reported (a blocked flow, an exception or override used), never per
 * packet. The event goes through the event pipeline like any other: device identity adds the
 * device and the user, discovery the app and its rollups count the blocked attempt.
 */
import { randomUUID } from 'node:crypto';
import type { NetworkActivityEvent, NetworkEndpoint } from '../events/network-activity.js';
import { OCSF_VERSION, PRODUCT } from '../events/ocsf.js';
import type { VerdictDecision, VerdictEnforcement, VerdictNameSource } from './policy-types.js';
import type { InlineDecision } from './inline/engine.js';

/** What the inline path knows of the flow a verdict was given for. */
export interface VerdictFlowContext {
  /** Wall-clock time of the packet judged (ms). */
  timeMs: number;
  clientIp: string;
  clientPort?: number;
  clientMac?: string;
  serverIp: string;
  serverPort?: number;
  /** IANA protocol number (6 TCP, 17 UDP). */
  protocolNum: number;
  /** The name judged and where it came from. */
  name: string;
  nameSource: VerdictNameSource;
  /** The flow's connection_info.uid when the sensor knows the flow; a fresh one otherwise. */
  flowUid?: string;
  /** How a block was carried out, as the enforcing path reports it (./policy-types.ts). */
  enforcement?: VerdictEnforcement;
}

/** The flow a decision of the inline engine or the SPAN resetter was made on, as its event names it. */
export function verdictFlowOf(d: InlineDecision): VerdictFlowContext {
  return {
    timeMs: d.request.nowMs, clientIp: d.request.clientIp, clientPort: d.clientPort, serverIp: d.serverIp, serverPort: d.serverPort,
    protocolNum: d.transport === 'tcp' ? 6 : 17, name: d.request.name, nameSource: d.request.nameSource,
    ...(d.request.clientMac !== undefined ? { clientMac: d.request.clientMac } : {}),
    ...(d.enforcement !== undefined ? { enforcement: d.enforcement } : {}),
  };
}

/** Decisions worth an event: every block, and the allows an exception or an override made. */
export function isReported(d: VerdictDecision): boolean {
  return d.verdict === 'block' || d.reason === 'exception' || d.reason === 'override';
}

const RULE_TYPE: Readonly<Record<VerdictDecision['reason'], string>> = {
  override: 'override', exception: 'exception', rule: 'rule', unsanctioned: 'sanction', default: 'default',
};

function ruleName(d: VerdictDecision): string {
  const app = d.appName ?? d.appId ?? 'this name';
  switch (d.reason) {
    case 'override': return `Time-boxed override ${d.ruleId} (${d.verdict} ${app})`;
    case 'exception': return `Exception ${d.ruleId}`;
    case 'rule': return `Administrator rule ${d.ruleId} (${d.verdict})`;
    case 'unsanctioned': return `${app} is unsanctioned`;
    default: return d.ruleId === 'default' ? 'Default verdict (allow)' : `Sanction state (${d.ruleId.slice('sanction:'.length)})`;
  }
}

const HOSTNAME_SOURCES: Readonly<Record<VerdictNameSource, string>> = {
  'tls-sni': 'sni', 'quic-sni': 'quic', 'http-host': 'http_host', 'dns-query': 'dns_query',
};

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp' };

export function buildVerdictEvent(d: VerdictDecision, f: VerdictFlowContext): NetworkActivityEvent {
  const denied = d.verdict === 'block';
  // A denial nothing could carry out (enforcement `none`) stopped nothing: not "Blocked".
  const blocked = denied && f.enforcement !== 'none';
  const activity = blocked ? (f.enforcement === 'reset' ? 3 : 5) : 1;
  const activityName = activity === 3 ? 'Reset' : activity === 5 ? 'Refuse' : 'Open';
  const src: NetworkEndpoint = { ip: f.clientIp };
  if (f.clientPort !== undefined) src.port = f.clientPort;
  if (f.clientMac !== undefined) src.mac = f.clientMac;
  const dst: NetworkEndpoint = { ip: f.serverIp, hostname: f.name };
  if (f.serverPort !== undefined) dst.port = f.serverPort;
  const rule = ruleName(d);
  const message = blocked
    ? `Blocked ${f.name}: ${rule}`
    : denied ? `Denied ${f.name} but not stopped (no reset could be sent): ${rule}`
    : `Allowed ${f.name} by ${d.reason === 'exception' ? 'exception' : 'override'} ${d.ruleId}`;
  return {
    activity_id: activity,
    activity_name: activityName,
    category_uid: 4,
    category_name: 'Network Activity',
    class_uid: 4001,
    class_name: 'Network Activity',
    type_uid: 400100 + activity,
    type_name: `Network Activity: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    time: f.timeMs,
    start_time: f.timeMs,
    end_time: f.timeMs,
    duration: 0,
    message,
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomUUID(), log_name: 'control', profiles: ['security_control'] },
    src_endpoint: src,
    dst_endpoint: dst,
    connection_info: {
      uid: f.flowUid ?? randomUUID(),
      protocol_num: f.protocolNum,
      protocol_name: PROTOCOL_NAMES[f.protocolNum] ?? String(f.protocolNum),
      protocol_ver_id: f.clientIp.includes(':') ? 6 : 4,
      // The client is on the office side of the gateway: outbound.
      direction_id: 2,
      direction: 'Outbound',
    },
    is_src_dst_assignment_known: true,
    action_id: denied ? 2 : 1,
    action: denied ? 'Denied' : 'Allowed',
    disposition_id: blocked ? 2 : denied ? 15 : 1,
    disposition: blocked ? 'Blocked' : denied ? 'Detected' : 'Allowed',
    is_alert: false,
    firewall_rule: { uid: d.ruleId, name: rule, type: RULE_TYPE[d.reason], ...(d.appId !== undefined ? { condition: `app:${d.appId}` } : {}) },
    policy: { uid: 'outpost-control', name: 'Cloud-app control', is_applied: true },
    unmapped: {
      // The sensor's spelling of the name's source (docs/OCSF.md), so one field reads the same.
      hostname_source: HOSTNAME_SOURCES[f.nameSource],
      control: { verdict: d.verdict, reason: d.reason, rule_id: d.ruleId, ...(f.enforcement !== undefined ? { enforcement: f.enforcement } : {}) },
    },
    // The verdict carries no traffic: the flow's own events (the sensor's) count its bytes.
    traffic: { packets_out: 0, packets_in: 0, bytes_out: 0, bytes_in: 0, packets: 0, bytes: 0 },
  };
}
