import type { PolicyOutcome } from '../harness/run-policies.js';

const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function status(outcome: PolicyOutcome): string {
  if (outcome.violations.length === 0) return outcome.unknown.length ? 'unknown until apply' : 'pass';
  return outcome.enforcementLevel === 'mandatory' ? '**FAIL**' : 'warn';
}

/** A Markdown table for a pull-request comment: one row per policy, violations with resource names. */
export function markdownReport(stack: string, outcomes: PolicyOutcome[]): string {
  const mandatoryFailures = outcomes.filter((o) => o.enforcementLevel === 'mandatory' && o.violations.length > 0).length;
  const lines = [
    `### Security policy report: stack \`${stack}\``,
    '',
    mandatoryFailures === 0
      ? 'All mandatory policies pass.'
      : `**${mandatoryFailures} mandatory ${mandatoryFailures === 1 ? 'policy fails' : 'policies fail'}.**`,
    '',
    '| Policy | Level | Status | Violations |',
    '| --- | --- | --- | --- |',
    ...outcomes.map((o) => {
      const found = o.violations.map((v) => `\`${v.resource?.name ?? 'stack'}\`: ${escape(v.message)}`).join('<br>');
      return `| ${o.policy} | ${o.enforcementLevel} | ${status(o)} | ${found || '-'} |`;
    }),
    '',
  ];
  return lines.join('\n');
}
