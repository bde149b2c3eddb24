// Type-checks Grafana dashboard JSON files against Grafana's published dashboard schema: the types
// @grafana/schema generates from Grafana's CUE schema (raw/dashboard/x: the dashboard JSON model,
// panels, targets, field config) and, per panel type, that panel's own options/field-config schema
// (raw/composable/<type>/panelcfg). Each dashboard becomes `<json> satisfies Dashboard` in a .ts
// file, so TypeScript reports unknown keys (excess property checks), wrong types and missing
// required fields. Panel options are checked as deep-partial: Grafana fills omitted options with
// defaults, but a misspelled or mistyped option is an error.
//   node check.mjs OUT_DIR DASHBOARD.json...      exit 0 when every dashboard conforms
// OUT_DIR must be inside this folder (the generated files import @grafana/schema from node_modules).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  console.error('usage: node check.mjs OUT_DIR DASHBOARD.json...');
  process.exit(2);
}
const RAW = '@grafana/schema/dist/esm/raw';
// panel type -> its composable schema module, from the package's exports
// (./dist/esm/raw/composable/<dir>/panelcfg/x/<Module>_types.gen); a panel type id is its dir name
// without dashes, lower-cased, except these two
const ALIASES = { dashlist: 'dashboardlist', annolist: 'annotationslist' };
const pkgDir = join(here, 'node_modules/@grafana/schema');
const PANELCFG = {};
for (const key of Object.keys(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).exports)) {
  const m = key.match(/^\.\/dist\/esm\/raw\/composable\/([a-z0-9]+)\/panelcfg\/x\/(\w+)_types\.gen$/);
  if (m) {
    const dts = readFileSync(join(pkgDir, `dist/types/raw/composable/${m[1]}/panelcfg/x/types.gen.d.ts`), 'utf8');
    PANELCFG[m[1]] = { module: m[2], options: /export interface Options\b/.test(dts), field: /export interface FieldConfig\b/.test(dts) };
  }
}
const schemaOf = (type) => PANELCFG[ALIASES[type] || type.replace(/-/g, '').toLowerCase()];

function panelsOf(list) {
  return list.flatMap((p) => [p, ...panelsOf(p.panels || [])]);
}

mkdirSync(outDir, { recursive: true });
const sources = [];
for (const file of files) {
  const dash = JSON.parse(readFileSync(file, 'utf8'));
  const name = basename(file, '.json').replace(/[^A-Za-z0-9]/g, '_');
  const lines = [
    `import type { Dashboard, Panel, RowPanel } from '${RAW}/dashboard/x/Dashboard_types.gen';`,
    // string enums of the generated types accept their values as JSON strings (a TypeScript enum is nominal)
    `type Lit<T> = T extends string ? \`\${T}\` : T extends (infer U)[] ? Lit<U>[] : T extends object ? { [K in keyof T]: Lit<T[K]> } : T;`,
    `type DeepPartial<T> = T extends string ? \`\${T}\` : T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;`,
  ];
  lines.push(`type FC = NonNullable<Lit<Panel>['fieldConfig']>;`);
  lines.push(`type TypedPanel<T, O, C> = Omit<Lit<Panel>, 'type' | 'options' | 'fieldConfig'> & { type: T; options?: O;` +
    ` fieldConfig?: Omit<FC, 'defaults'> & { defaults: Omit<FC['defaults'], 'custom'> & { custom?: C } } };`);
  const types = [...new Set(panelsOf(dash.panels || []).map((p) => p.type))].filter((t) => t !== 'row');
  const unknown = types.filter((t) => !schemaOf(t));
  if (unknown.length) {
    console.log(`${file}: no published schema for panel type(s) ${unknown.join(', ')}`);
    process.exit(1);
  }
  const typeName = {};
  types.forEach((type, i) => {
    const cfg = schemaOf(type);
    const dir = ALIASES[type] || type.replace(/-/g, '').toLowerCase();
    typeName[type] = `P${i}`;
    lines.push(`import type * as C${i} from '${RAW}/composable/${dir}/panelcfg/x/${cfg.module}_types.gen';`);
    lines.push(`type P${i} = TypedPanel<'${type}', ${cfg.options ? `DeepPartial<C${i}.Options>` : 'Record<string, never>'}, ` +
      `${cfg.field ? `DeepPartial<C${i}.FieldConfig>` : 'Record<string, never>'}>;`);
  });
  lines.push(`export const dashboard = ${JSON.stringify(dash, null, 2)} satisfies Lit<Dashboard>;`);
  panelsOf(dash.panels || []).forEach((p, i) => {
    const t = p.type === 'row' ? 'Lit<RowPanel>' : typeName[p.type];
    lines.push(`export const panel${i} = ${JSON.stringify(p, null, 2)} satisfies ${t}; // ${JSON.stringify(p.title || '')}`);
  });
  const path = join(outDir, `${name}.ts`);
  writeFileSync(path, lines.join('\n') + '\n');
  sources.push(`./${name}.ts`);
}
writeFileSync(join(outDir, 'tsconfig.json'), JSON.stringify({
  compilerOptions: {
    strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler',
    skipLibCheck: true, typeRoots: [],
  },
  files: sources,
}, null, 2));
try {
  execFileSync(process.execPath, [join(here, 'node_modules/typescript/bin/tsc'), '-p', join(outDir, 'tsconfig.json'), '--pretty', 'false'],
    { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  console.log(`${files.length} dashboard(s) conform to @grafana/schema`);
} catch (e) {
  process.stdout.write(e.stdout || '');
  process.stderr.write(e.stderr || '');
  process.exit(1);
}
