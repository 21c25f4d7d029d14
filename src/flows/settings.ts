import type { FlowsConfig } from './config.js';
import type { FlowSettings } from './flow-table.js';

/** The flow-table settings of a validated `flows` configuration section. */
export function flowSettingsFromConfig(flows: FlowsConfig): FlowSettings {
  return {
    maxFlows: flows.maxFlows,
    flowIdleTimeoutMs: { ...flows.flowIdleTimeoutMs },
    tcpClosedTimeoutMs: flows.tcpClosedTimeoutMs,
    flowActiveTimeoutMs: flows.flowActiveTimeoutMs,
    emitOpenEvents: flows.emitOpenEvents,
  };
}
