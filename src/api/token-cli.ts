/**
 * `outpost token create --role admin|read [--name NAME]`: prints a new token (shown once) and the
 * `api.tokens` entry holding its SHA-256, to paste into the configuration (or PATCH /v1/config).
 */
import { parseArgs } from 'node:util';
import { API_ROLES, type ApiRole } from './config.js';
import { createToken } from './auth.js';
import { OutpostError } from '../errors.js';

export function tokenCommand(args: string[], out: (s: string) => void): number {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new OutpostError('CLI_USAGE', { reason: `token: unknown subcommand "${sub ?? ''}" (known: create)` });
  const { values } = parseArgs({ args: rest, options: { role: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } } });
  const role = values.role as ApiRole | undefined;
  if (role === undefined || !API_ROLES.includes(role)) {
    throw new OutpostError('CLI_USAGE', { reason: `token create: --role must be one of ${API_ROLES.join(', ')}` });
  }
  const name = values.name ?? `${role}-${new Date().toISOString().slice(0, 10)}`;
  if (!/^[^\s].{0,63}$/.test(name)) throw new OutpostError('CLI_USAGE', { reason: 'token create: --name must be 1 to 64 characters' });
  const { token, sha256 } = createToken(role);
  if (values.json) {
    out(`${JSON.stringify({ token, entry: { name, role, sha256 } })}\n`);
    return 0;
  }
  out([
    `token:  ${token}`,
    `sha256: ${sha256}`,
    '',
    'The token is shown only now; store it in your secret manager. Add this entry to api.tokens:',
    '',
    'api:',
    '  tokens:',
    `    - { name: ${JSON.stringify(name)}, role: ${role}, sha256: "${sha256}" }`,
    '',
  ].join('\n'));
  return 0;
}
