/**
 * Renders docs/CONFIG.md and config/outpost.example.yaml from the schema, so descriptions,
 * limits and defaults are written once. schema.test.ts fails when the committed files are stale.
 *
 * Regenerate: node --import tsx tools/config-docs.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configSchema } from '../src/config/schema.js';

interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  enum?: readonly unknown[];
  items?: Node;
  uniqueItems?: boolean;
  properties?: Record<string, Node>;
}

const root = configSchema as unknown as Node;

/** Depth-first list of every setting with its dotted name; sections come before their children. */
export function listSettings(node: Node = root, prefix = ''): Array<{ name: string; node: Node }> {
  const out: Array<{ name: string; node: Node }> = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    out.push({ name, node: child });
    if (child.properties) out.push(...listSettings(child, name));
  }
  return out;
}

function typeText(n: Node): string {
  if (n.type === 'array') return `${n.items?.type ?? 'any'}[]`;
  return n.type ?? 'any';
}

function constraints(n: Node): string {
  const parts: string[] = [];
  if (n.enum) parts.push(`one of ${n.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (n.minimum !== undefined && n.maximum !== undefined) parts.push(`${n.minimum} to ${n.maximum}`);
  else if (n.minimum !== undefined) parts.push(`>= ${n.minimum}`);
  else if (n.maximum !== undefined) parts.push(`<= ${n.maximum}`);
  if (n.minLength) parts.push('non-empty');
  if (n.items?.minLength) parts.push('non-empty items');
  if (n.uniqueItems) parts.push('no duplicates');
  return parts.join('; ');
}

export function renderConfigMarkdown(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by `node --import tsx tools/config-docs.ts`. Do not edit by hand. -->',
    '',
    'Outpost reads one YAML file, given with `--config <path>`. Every setting is optional: the',
    'daemon runs with no file at all, using the defaults below. A file is merged onto the defaults,',
    'so it only needs the settings you change. A section left empty (all its settings commented out)',
    'also means "defaults".',
    '',
    'Validation is strict: unknown settings, wrong types and out-of-range values are errors',
    '(`CONFIG_INVALID`, see [ERRORS.md](ERRORS.md)), and every problem is reported at once,',
    'each named by its JSON pointer, e.g.:',
    '',
    '```',
    'outpost.yaml: invalid configuration:',
    '  /flows/maxFlows: must be >= 1024 (got 100)',
    '  /capture/snaplen: unknown setting (did you mean "snaplenBytes"?)',
    '```',
    '',
    'Units are part of the names: `…Ms` is milliseconds, `…Bytes` is bytes.',
    '',
    'An annotated example with every setting: [config/outpost.example.yaml](../config/outpost.example.yaml).',
    'The JSON Schema (draft-07) itself is exported as `configSchema` from `src/config/schema.ts`.',
    '',
    '## Settings',
    '',
    '| Setting | Type | Default | Allowed | Description |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const { name, node } of listSettings()) {
    const def = node.properties ? '(section)' : `\`${JSON.stringify(node.default)}\``;
    const desc = (node.description ?? '').replace(/\|/g, '\\|');
    lines.push(`| \`${name}\` | ${typeText(node)} | ${def} | ${constraints(node)} | ${desc} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** Wrap a description into `# ` comment lines of at most ~100 columns. */
function comment(text: string, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + 2 + line.length + 1 + word.length > 100) {
      out.push(`${indent}# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(`${indent}# ${line}`);
  return out;
}

function yamlScalar(v: unknown): string {
  // JSON is valid YAML for these scalars and arrays, and quotes strings unambiguously.
  return JSON.stringify(v);
}

function renderYamlNode(node: Node, depth: number): string[] {
  const indent = '  '.repeat(depth);
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (out.length > 0 && depth === 0) out.push('');
    const desc = child.description ?? '';
    const limits = constraints(child);
    out.push(...comment(limits && !child.properties ? `${desc} Allowed: ${limits}.` : desc, indent));
    if (child.properties) {
      out.push(`${indent}${key}:`);
      out.push(...renderYamlNode(child, depth + 1));
    } else {
      out.push(`${indent}${key}: ${yamlScalar(child.default)}`);
    }
  }
  return out;
}

export function renderExampleYaml(): string {
  return [
    '# Outpost configuration example.',
    '# Generated from src/config/schema.ts by `node --import tsx tools/config-docs.ts`; do not edit.',
    '#',
    '# Every value below is the built-in default, so this file behaves exactly like no file at all.',
    '# Copy it, delete what you do not change, and edit the rest. Reference: docs/CONFIG.md.',
    '',
    ...renderYamlNode(root, 0),
    '',
  ].join('\n');
}

/** Repository root, found relative to this file (tools/config-docs.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const configDocPath = join(repoRoot, 'docs', 'CONFIG.md');
export const exampleYamlPath = join(repoRoot, 'config', 'outpost.example.yaml');

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(configDocPath, renderConfigMarkdown());
  writeFileSync(exampleYamlPath, renderExampleYaml());
  console.log(`wrote ${configDocPath} and ${exampleYamlPath}`);
}
