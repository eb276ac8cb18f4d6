import { FULL_TIMING, QUICK_TIMING, runScenario, type ScenarioRow } from './scenario-runner.js';
import { SCENARIOS } from './scenarios.js';

/**
 * `npm run chaos [-- --quick] [-- --only "broker restart,hostile flood"]`: every scenario on a fresh
 * local stack, then one table. Exits 1 if any reading was lost, stored twice or appeared from nowhere.
 */
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',').map((s) => s.trim())) : undefined;
const timing = quick ? QUICK_TIMING : FULL_TIMING;

const rows: ScenarioRow[] = [];
for (const scenario of SCENARIOS) {
  if (only && !only.has(scenario.name)) continue;
  process.stderr.write(`chaos: ${scenario.name}: ${scenario.what}\n`);
  rows.push(await runScenario(scenario, timing));
}

const header = ['scenario', 'sent', 'stored', 'duplicates removed', 'lost', 'stored twice', 'rejected', 'service peak RSS MiB', 'notes'];
const table = rows.map((r) => [
  r.scenario,
  r.sent,
  r.stored,
  r.duplicatesRemoved,
  r.lost,
  r.storedTwice + r.unexpected,
  r.rejected,
  r.servicePeakRssMiB,
  Object.entries(r.notes).map(([k, v]) => `${k}=${v}`).join(' '),
].map(String));
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
process.stdout.write(`${[line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n')}\n`);
process.stdout.write(`timing: ${JSON.stringify(timing)}\n`);

const broken = rows.filter((r) => r.lost > 0 || r.storedTwice > 0 || r.unexpected > 0);
if (broken.length > 0) {
  process.stderr.write(`chaos: readings lost or doubled in: ${broken.map((r) => r.scenario).join(', ')}\n`);
  process.exit(1);
}
