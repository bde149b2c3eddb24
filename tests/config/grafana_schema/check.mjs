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
// panel type -> the module of its composable schema (the ones without FieldConfig have no custom field config)
const PANELS = {
  stat: ['stat', 'StatPanelCfg', false],
  timeseries: ['timeseries', 'TimeSeriesPanelCfg', true],
  table: ['table', 'TablePanelCfg', true],
  bargauge: ['bargauge', 'BarGaugePanelCfg', false],
};

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
  lines.push(`type TypedPanel<T, O, C> = Omit<Lit<Panel>, 'type' | 'options' | 'fieldConfig'> & { type: T; options?: DeepPartial<O>;` +
    ` fieldConfig?: Omit<FC, 'defaults'> & { defaults: Omit<FC['defaults'], 'custom'> & { custom?: C } } };`);
  for (const [type, [dir, mod, hasField]] of Object.entries(PANELS)) {
    lines.push(`import type * as ${type}Cfg from '${RAW}/composable/${dir}/panelcfg/x/${mod}_types.gen';`);
    lines.push(`type ${type}Panel = TypedPanel<'${type}', ${type}Cfg.Options, ${hasField ? `DeepPartial<${type}Cfg.FieldConfig>` : 'Record<string, never>'}>;`);
  }
  lines.push(`export const dashboard = ${JSON.stringify(dash, null, 2)} satisfies Lit<Dashboard>;`);
  panelsOf(dash.panels || []).forEach((p, i) => {
    const t = p.type === 'row' ? 'Lit<RowPanel>' : PANELS[p.type] ? `${p.type}Panel` : 'Lit<Panel>';
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
