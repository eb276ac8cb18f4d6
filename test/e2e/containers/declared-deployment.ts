import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Docker from 'dockerode';
import type { DeclaredResource } from '../../../infra/mocks/stack-mocks.js';
import { createOptions } from './container-spec.js';
import { uploadArchive, type DeclaredUpload } from './upload-archive.js';

const NETWORK = 'docker:index/network:Network';
const VOLUME = 'docker:index/volume:Volume';
const REMOTE_IMAGE = 'docker:index/remoteImage:RemoteImage';
const IMAGE = 'docker:index/image:Image';
const CONTAINER = 'docker:index/container:Container';

/**
 * A docker client that can run BuildKit builds: with the buildx plugin, or Debian's 20.10 client
 * (its built-in BuildKit); a newer client without buildx refuses DOCKER_BUILDKIT=1.
 */
export function dockerCli(): string {
  if (spawnSync('docker', ['buildx', 'version'], { stdio: 'ignore' }).status === 0) return 'docker';
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/** Declared image → the local image used in its place, when the declared one cannot be pulled. */
export type ImageOverrides = Map<string, string>;

export interface DeploymentOptions {
  /** Drop the BuildKit cache once the images are built, before any container takes disk space. */
  pruneBuildCache?: boolean;
}

/**
 * Creates on a real Docker engine the docker resources a Pulumi program declared (captured under
 * mocks), as the docker provider would: networks, images (pulled, or built with BuildKit), volumes,
 * containers with their uploads, in dependency order; then waits for health. `down` removes all of it.
 */
export class DeclaredDeployment {
  private readonly docker = new Docker();
  private readonly made = { containers: [] as string[], volumes: [] as string[], networks: [] as string[], images: [] as string[] };

  private readonly log: (line: string) => void;

  constructor(
    private readonly resources: DeclaredResource[],
    private readonly overrides: ImageOverrides,
    private readonly options: DeploymentOptions = {},
  ) {
    this.log = (line) => process.stdout.write(`${line}\n`);
  }

  private of(type: string): DeclaredResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  async up(): Promise<void> {
    for (const network of this.of(NETWORK)) {
      const name = String(network.inputs.name);
      await this.docker.createNetwork({ Name: name, Driver: String(network.inputs.driver ?? 'bridge'), Internal: Boolean(network.inputs.internal) });
      this.made.networks.push(name);
    }
    const images = new Map<string, string>(); // the reference a container declares → a real local image
    for (const remote of this.of(REMOTE_IMAGE)) images.set(String(remote.state.imageId), this.pullOrOverride(String(remote.inputs.name)));
    for (const image of this.of(IMAGE)) images.set(String(image.state.repoDigest), this.build(image));
    if (this.options.pruneBuildCache) this.pruneBuildCache();
    for (const volume of this.of(VOLUME)) {
      const name = String(volume.inputs.name);
      await this.docker.createVolume({ Name: name });
      this.made.volumes.push(name);
    }
    // Declaration order follows the program's dependsOn: broker, key service, fleet.
    for (const declared of this.of(CONTAINER)) {
      const image = images.get(String(declared.inputs.image));
      if (!image) throw new Error(`${declared.name}: its image ${String(declared.inputs.image)} was not declared`);
      const container = await this.docker.createContainer(createOptions(declared.inputs, image));
      this.made.containers.push(container.id);
      const uploads = (declared.inputs.uploads as DeclaredUpload[] | undefined) ?? [];
      // Like the provider: uploads go in before start, extracted at the root.
      if (uploads.length) await container.putArchive(await uploadArchive(uploads), { path: '/' });
      if (declared.inputs.start === false) {
        this.log(`  created ${String(declared.inputs.name)} (not started: it only carries files)`);
        continue;
      }
      await container.start();
      if (declared.inputs.healthcheck) await this.waitHealthy(container, String(declared.inputs.name));
      this.log(`  started ${String(declared.inputs.name)} (${image})`);
    }
  }

  private pullOrOverride(name: string): string {
    const override = this.overrides.get(name);
    if (override) return override;
    this.log(`  pulling ${name}`);
    const pulled = spawnSync(dockerCli(), ['pull', name], { stdio: 'inherit' });
    if (pulled.status !== 0) throw new Error(`cannot pull ${name} and no override was given for it`);
    return name;
  }

  private build(image: DeclaredResource): string {
    const name = String(image.inputs.imageName);
    const build = image.inputs.build as { context: string; dockerfile: string; args?: Record<string, string> };
    const args = Object.entries(build.args ?? {}).flatMap(([key, value]) => ['--build-arg', `${key}=${this.overrides.get(value) ?? value}`]);
    this.log(`  building ${name} from ${build.dockerfile} (${args.filter((_, i) => i % 2).join(' ')})`);
    const started = Date.now();
    const result = spawnSync(dockerCli(), ['build', '-t', name, '-f', build.dockerfile, ...args, build.context], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
    });
    if (result.status !== 0) throw new Error(`docker build of ${name} failed`);
    this.made.images.push(name);
    this.log(`  built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return name;
  }

  private pruneBuildCache(): void {
    const pruned = spawnSync(dockerCli(), ['builder', 'prune', '--all', '--force'], { encoding: 'utf8' });
    if (pruned.status !== 0) throw new Error(`docker builder prune failed: ${pruned.stderr}`);
    this.log(`  build cache pruned (${pruned.stdout.trim().split('\n').pop()})`);
  }

  private async waitHealthy(container: Docker.Container, name: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = (await container.inspect()).State;
      const health = state.Health?.Status;
      if (health === 'healthy') return;
      if (!state.Running || health === 'unhealthy' || Date.now() > deadline) {
        const logs = await container.logs({ stdout: true, stderr: true, tail: 30 });
        throw new Error(`${name} is ${state.Running ? (health ?? 'not healthy') : `not running (exit ${state.ExitCode})`}:\n${logs.toString('utf8')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Removes everything `up` made, in reverse, whatever state it is in. */
  async down(): Promise<void> {
    for (const id of this.made.containers.reverse()) await this.docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    for (const name of this.made.volumes) await this.docker.getVolume(name).remove().catch(() => undefined);
    for (const name of this.made.networks) await this.docker.getNetwork(name).remove().catch(() => undefined);
    for (const name of this.made.images) await this.docker.getImage(name).remove({ force: true }).catch(() => undefined);
    this.made.containers = [];
  }
}
