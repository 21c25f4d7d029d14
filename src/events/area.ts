/**
 * The events area (src/area.ts): the `events` section (which OCSF classes are emitted, and
 * whether they also go to stdout). The event builders run inside the pipeline; this area has no
 * running parts of its own.
 */
import type { Area } from '../area.js';
import { eventsConfigSection, type EventsConfig } from './config.js';

export const eventsArea: Area<EventsConfig> = { name: 'events', config: eventsConfigSection };
