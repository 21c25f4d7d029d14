/**
 * The api area (src/area.ts): the `api` section. The API server itself (src/api/server.ts) is
 * built by the daemon from every area's routes, so it is not an area's `create`.
 */
import type { Area } from '../area.js';
import { apiConfigSection, type ApiConfig } from './config.js';

export const apiArea: Area<ApiConfig> = { name: 'api', config: apiConfigSection };
