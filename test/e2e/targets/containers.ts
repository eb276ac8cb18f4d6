import { spawnSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import type { TestProject } from 'vitest/node';
import { declareUnderMocks } from '../../../infra/mocks/declare-under-mocks.js';
import { DeclaredDeployment, dockerCli, type ImageOverrides } from '../containers/declared-deployment.js';
import type { E2eEndpoints } from '../endpoints.js';
import { E2E_AUDITOR, E2E_CONFIG_OVERRIDES } from './e2e-stack-config.js';

/**
 * Target 2: the Docker resources the Pulumi program declares (run under mocks, with real certificates),
 * created on a real engine as declared. Images that cannot be pulled here are replaced, only through
 * the override table printed below, by local stand-ins built from host binaries (e2e-images/).
 */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const STAND_INS: Record<string, string> = {
  'eclipse-mosquitto:2.0.20': 'smqtt-standin/mosquitto:2.0',
  'node:20.19-bookworm-slim': 'smqtt-standin/node:20-bookworm',
};
/** Measured peak of this target under vfs, cold build cache: 2.5 GiB (builds 1.7, then seven containers), plus 0.5 GiB for the stand-ins. */
const REQUIRED_FREE_BYTES = 4 * 2 ** 30;
let deployment: DeclaredDeployment | undefined;

/** Fails before building anything when the engine's disk cannot hold the run: a clear error, not ENOSPC mid-way. */
async function checkDockerDisk(docker: Docker): Promise<void> {
  const root = String((await docker.info()).DockerRootDir ?? '/var/lib/docker');
  let free: number;
  try {
    const stats = statfsSync(root);
    free = stats.bavail * stats.bsize;
  } catch {
    process.stdout.write(`Docker root ${root} is not visible from here (remote engine?): disk space not checked\n`);
    return;
  }
  const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
  process.stdout.write(`Docker root ${root}: ${gib(free)} GiB free (this target needs about ${gib(REQUIRED_FREE_BYTES)} GiB)\n`);
  if (free < REQUIRED_FREE_BYTES) {
    throw new Error(
      `only ${gib(free)} GiB free under ${root}; the containers target needs ${gib(REQUIRED_FREE_BYTES)} GiB ` +
        '(vfs copies every layer). Free space, e.g. `docker builder prune -af`, then run again.',
    );
  }
}

function canPull(image: string): boolean {
  if (process.env.E2E_USE_STAND_INS === '1') return false;
  return spawnSync(dockerCli(), ['pull', '--quiet', image], { stdio: 'ignore', timeout: 60_000 }).status === 0;
}

/** Declared image → stand-in, for each declared base image the engine cannot pull. */
function imageOverrides(): ImageOverrides {
  const overrides: ImageOverrides = new Map();
  for (const [declared, standIn] of Object.entries(STAND_INS)) if (!canPull(declared)) overrides.set(declared, standIn);
  if (overrides.size > 0) {
    const built = spawnSync('bash', [resolve(REPO_ROOT, 'e2e-images/build-stand-ins.sh')], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('building the stand-in base images failed (e2e-images/build-stand-ins.sh)');
  }
  process.stdout.write(
    `image override table (declared -> used):\n${Object.keys(STAND_INS)
      .map((d) => `  ${d} -> ${overrides.get(d) ?? `${d} (pulled, no override)`}`)
      .join('\n')}\n`,
  );
  return overrides;
}

export async function setup(project: TestProject): Promise<void> {
  const docker = new Docker();
  await docker.ping().catch((error: Error) => {
    throw new Error(`the containers target needs a running Docker engine (${error.message}); start dockerd, e.g. \`dockerd --storage-driver=vfs &\``);
  });
  await checkDockerDisk(docker);
  const { mocks, outputs } = await declareUnderMocks('e2e', E2E_CONFIG_OVERRIDES, 'dev');
  deployment = new DeclaredDeployment(mocks.resources, imageOverrides(), {
    // CI sets this: the build cache is worth keeping on a developer's machine, not on a throwaway one.
    pruneBuildCache: process.env.E2E_PRUNE_BUILD_CACHE === '1',
  });
  try {
    await deployment.up();
  } catch (error) {
    await teardown();
    throw error;
  }
  const caKey = mocks.resources.find((r) => r.type === 'tls:index/privateKey:PrivateKey' && r.name === 'pki-ca')!;
  const endpoints: E2eEndpoints = {
    broker: { host: '127.0.0.1', port: E2E_CONFIG_OVERRIDES.broker.publishPort },
    apiUrl: `http://127.0.0.1:${E2E_CONFIG_OVERRIDES.keyService.apiPublishPort}`,
    caCertPem: String(mocks.resources.find((r) => r.type === 'tls:index/selfSignedCert:SelfSignedCert')!.state.certPem),
    caKeyPem: String(caKey.state.privateKeyPem),
    fleetDeviceIds: outputs.deviceIds,
    serviceName: 'key-service.svc',
    auditorIdentity: E2E_AUDITOR,
    replayWindow: 1024,
    messageSizeLimit: 16_384,
  };
  project.provide('endpoints', endpoints);
}

export async function teardown(): Promise<void> {
  await deployment?.down();
  deployment = undefined;
}
