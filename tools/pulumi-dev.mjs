// `npm run up | preview | destroy`: the Pulumi CLI against the dev stack, with the file backend from
// Pulumi.yaml and a fixed passphrase (dev only: its secrets protect throw-away keys on your machine).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const [command = 'preview', ...rest] = process.argv.slice(2);
if (spawnSync('pulumi', ['version'], { stdio: 'ignore' }).error) {
  console.error(
    'The Pulumi CLI is needed for this command and is not on PATH.\n' +
      'Install it (https://www.pulumi.com/docs/install/, or `curl -fsSL https://get.pulumi.com | sh`), ' +
      'then run again. Docker must be running too. Without the CLI, `npm test` runs the program under mocks.',
  );
  process.exit(3);
}
mkdirSync('.pulumi-state', { recursive: true });
const env = { ...process.env, PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? 'dev-only-passphrase' };
const run = (args) => spawnSync('pulumi', args, { stdio: 'inherit', env }).status ?? 1;
if (run(['stack', 'select', 'dev', '--create']) !== 0) process.exit(1);
const extra = command === 'preview' ? [] : ['--yes'];
process.exit(run([command, '--stack', 'dev', ...extra, ...rest]));
