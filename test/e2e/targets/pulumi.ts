import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalWorkspace, type Stack } from '@pulumi/pulumi/automation/index.js';
import type { TestProject } from 'vitest/node';
import { stackConfigFile } from '../../../infra/mocks/declare-under-mocks.js';
import type { E2eEndpoints } from '../endpoints.js';
import { E2E_CONFIG_OVERRIDES, E2E_AUDITOR } from './e2e-stack-config.js';

/**
 * Target 3: a real, ephemeral Pulumi stack (file backend) brought up with the policy pack, tested
 * through its outputs, then destroyed and removed even when something fails. Needs the Pulumi CLI
 * and Docker; it is not part of CI here, where neither the CLI nor its plugins can be downloaded.
 */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PASSPHRASE = 'e2e-ephemeral-stack';
let stack: Stack | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (spawnSync('pulumi', ['version'], { stdio: 'ignore' }).error) {
    throw new Error('npm run test:stack needs the Pulumi CLI on PATH (https://www.pulumi.com/docs/install/) and a running Docker engine.');
  }
  const stackName = `e2e-${randomBytes(4).toString('hex')}`;
  const envVars = { PULUMI_CONFIG_PASSPHRASE: PASSPHRASE, PULUMI_BACKEND_URL: `file://${REPO_ROOT}/.pulumi-state` };
  stack = await LocalWorkspace.createStack({ stackName, workDir: REPO_ROOT }, { envVars });
  const sections = { ...stackConfigFile('dev'), ...E2E_CONFIG_OVERRIDES };
  for (const [section, value] of Object.entries(sections)) {
    await stack.setConfig(`secure-mqtt-stack:${section}`, { value: JSON.stringify(value) }, );
  }
  try {
    await stack.up({ policyPacks: [resolve(REPO_ROOT, 'policies')], onOutput: (line) => process.stdout.write(line) });
    const outputs = await stack.outputs();
    // The CA key is needed to mint test identities; it is a secret in the state of this throw-away stack.
    const exported = spawnSync('pulumi', ['stack', 'export', '--show-secrets', '--stack', stackName], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...envVars },
      encoding: 'utf8',
    });
    const deployment = JSON.parse(exported.stdout) as { deployment: { resources: { type: string; urn: string; outputs?: Record<string, unknown> }[] } };
    const caKey = deployment.deployment.resources.find((r) => r.type === 'tls:index/privateKey:PrivateKey' && r.urn.endsWith('::pki-ca'));
    const broker = new URL(String(outputs.brokerEndpoint?.value).split(' ')[0]!);
    const endpoints: E2eEndpoints = {
      broker: { host: broker.hostname, port: Number(broker.port) },
      apiUrl: String(outputs.apiUrl?.value),
      caCertPem: String(outputs.caCertPem?.value),
      caKeyPem: String(caKey?.outputs?.privateKeyPem),
      fleetDeviceIds: outputs.deviceIds?.value as string[],
      serviceName: 'key-service.svc',
      auditorIdentity: E2E_AUDITOR,
      replayWindow: 1024,
      messageSizeLimit: 16_384,
    };
    project.provide('endpoints', endpoints);
  } catch (error) {
    await teardown();
    throw error;
  }
}

export async function teardown(): Promise<void> {
  if (!stack) return;
  const current = stack;
  stack = undefined;
  try {
    await current.destroy({ onOutput: (line) => process.stdout.write(line) });
  } finally {
    await current.workspace.removeStack(current.name);
  }
}
