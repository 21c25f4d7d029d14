/**
 * The `flows` section of the configuration: its type and JSON-schema fragment, composed into the
 * full schema by src/config/schema.ts. Units are in the setting names.
 */
import type { ConfigSection } from '../area.js';

export interface FlowIdleTimeoutsMs {
  tcp: number;
  udp: number;
  icmp: number;
  other: number;
}

export interface FlowsConfig {
  maxFlows: number;
  flowIdleTimeoutMs: FlowIdleTimeoutsMs;
  tcpClosedTimeoutMs: number;
  flowActiveTimeoutMs: number;
  emitOpenEvents: boolean;
}

const DAY_MS = 86_400_000;

/** Idle timeouts share limits; only the default and description differ per protocol. */
function idleTimeout(flowsOf: string, defaultMs: number, why: string) {
  return {
    type: 'integer',
    minimum: 1000,
    maximum: DAY_MS,
    default: defaultMs,
    description: `Idle timeout for ${flowsOf}: a flow with no packets for this long is closed and emitted. ${why}`,
  } as const;
}

export const flowsConfigSection: ConfigSection<FlowsConfig> = {
  key: 'flows',
  schema: {
    type: 'object',
    additionalProperties: false,
    default: {} as FlowsConfig,
    description: 'Flow tracking: how packets are grouped into flows and when flows are closed.',
    required: ['maxFlows', 'flowIdleTimeoutMs', 'tcpClosedTimeoutMs', 'flowActiveTimeoutMs', 'emitOpenEvents'],
    properties: {
      maxFlows: {
        type: 'integer',
        minimum: 1024,
        maximum: 16777216,
        default: 1048576,
        description: 'Maximum flows tracked at once. When full, the least recently seen flow is evicted (emitted early). Bounds memory use.',
      },
      flowIdleTimeoutMs: {
        type: 'object',
        additionalProperties: false,
        default: {} as FlowIdleTimeoutsMs,
        description: 'Idle timeouts per transport protocol.',
        required: ['tcp', 'udp', 'icmp', 'other'],
        properties: {
          tcp: idleTimeout('TCP flows', 300000, 'Long, because idle keep-alive connections are common.'),
          udp: idleTimeout('UDP flows', 120000, 'UDP has no end-of-flow signal, so this is the only way UDP flows end.'),
          icmp: idleTimeout('ICMP flows', 60000, 'Short, because ICMP exchanges are brief.'),
          other: idleTimeout('flows of other IP protocols', 120000, 'Applies to everything that is not TCP, UDP or ICMP.'),
        },
      },
      tcpClosedTimeoutMs: {
        type: 'integer',
        minimum: 0,
        maximum: 3600000,
        default: 10000,
        description: 'How long a TCP flow is kept after FIN or RST before it is emitted, to absorb retransmissions and late packets. 0: emit immediately.',
      },
      flowActiveTimeoutMs: {
        type: 'integer',
        minimum: 1000,
        maximum: DAY_MS,
        default: 300000,
        description: 'Long-lived flows are emitted (as an update) at least this often, so they are visible before they end.',
      },
      emitOpenEvents: {
        type: 'boolean',
        default: false,
        description: 'Also emit an event when a flow starts, not only when it ends or is updated. Doubles the event volume.',
      },
    },
  },
};
