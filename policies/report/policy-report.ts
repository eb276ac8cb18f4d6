import { parseArgs } from 'node:util';
import { declareUnderMocks } from '../../infra/mocks/declare-under-mocks.js';
import { POLICIES } from '../all-policies.js';
import { runPolicies } from '../harness/run-policies.js';
import { markdownReport } from './markdown-report.js';

/**
 * `npm run policy:report [-- --stack staging]`: runs the pack against the stack the program declares
 * (under mocks, no Pulumi CLI needed) and prints a Markdown table. Exits 1 on any mandatory violation.
 */
const { values } = parseArgs({ options: { stack: { type: 'string', default: 'dev' } } });
const stack = values.stack ?? 'dev';
const { mocks } = await declareUnderMocks(stack);
const outcomes = await runPolicies(POLICIES, mocks.resources);
process.stdout.write(markdownReport(stack, outcomes));
const failed = outcomes.some((o) => o.enforcementLevel === 'mandatory' && o.violations.length > 0);
process.exit(failed ? 1 : 0);
