import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import yaml from 'js-yaml';
import { declareStack, type StackOutputs } from '../stack.js';
import { PROJECT, readStackConfig } from '../stack-config.js';
import { StackMocks } from './stack-mocks.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The `config:` block of Pulumi.<stack>.yaml, as section name → object (namespace stripped). */
export function stackConfigFile(stack: string): Record<string, unknown> {
  const file = yaml.load(readFileSync(resolve(REPO_ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(Object.entries(file.config ?? {}).map(([key, value]) => [key.replace(`${PROJECT}:`, ''), value]));
}

export interface DeclaredStack {
  mocks: StackMocks;
  outputs: StackOutputs;
}

/** Resolves an Output's value (and whether it is secret) outside the engine. */
export async function settle<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
  const internal = output as unknown as { promise(): Promise<T>; isSecret: Promise<boolean> };
  return { value: await internal.promise(), secret: await internal.isSecret };
}

/**
 * Runs the program's declaration under mocks (the Pulumi engine cannot run here) as the given stack,
 * with the configuration of `Pulumi.<configFrom>.yaml`, optionally changed, and waits until every
 * resource is registered.
 */
export async function declareUnderMocks(stack: string, overrides: Record<string, unknown> = {}, configFrom = stack): Promise<DeclaredStack> {
  const mocks = new StackMocks();
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, false);
  const sections = { ...stackConfigFile(configFrom), ...overrides };
  const config = readStackConfig((section) => sections[section]);
  const outputs = declareStack(stack, config);
  // Every resource has registered once the containers' ids resolve (they depend on everything else).
  const containers = [outputs.broker.container, outputs.keyService.container, ...outputs.fleet.containers];
  await Promise.all(containers.map((c) => settle(c.id)));
  await settle(outputs.caCertPem);
  // Drain the RPC queue (components' registerOutputs) before another declaration replaces the mocks.
  await pulumi.runtime.disconnect();
  return { mocks, outputs };
}
