/**
 * The flows area (src/area.ts): the `flows` section (flowSettingsFromConfig turns it into the flow
 * table's settings), and for a running flow table its routes (GET /v1/flows), health and the
 * `flows.expire` job hook.
 */
import type { ActiveArea, AreaParts } from '../area.js';
import { flowsConfigSection, type FlowsConfig } from './config.js';
import type { FlowTable } from './flow-table.js';
import { flowsApiPlugin } from './routes.js';

export interface FlowsDeps {
  /** The pipeline's flow table. */
  flows: FlowTable;
  /** Runs after idle flows were ended on the wall clock (e.g. flush the event writer). */
  afterExpire?(): void;
}

export const flowsArea: ActiveArea<FlowsConfig, FlowsDeps, AreaParts> = {
  name: 'flows',
  config: flowsConfigSection,
  create(_cfg, deps) {
    return {
      routes: [flowsApiPlugin(deps.flows)],
      health: { flows: () => ({ state: 'running', ready: true, detail: `${deps.flows.size} active` }) },
      // Live traffic can stop; idle flows must still end on the wall clock.
      jobs: [{ job: 'flows.expire', name: 'flows', run: () => { deps.flows.expire(Date.now() * 1000); deps.afterExpire?.(); } }],
    };
  },
};
