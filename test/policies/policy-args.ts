import { renderAclFile, renderMosquittoConf } from '../../broker-config/mosquitto-config.js';
import type { ResourceUnderTest } from '../../policies/harness/run-policies.js';
import { runPolicies } from '../../policies/harness/run-policies.js';
import type { ResourceValidationPolicy } from '@pulumi/policy';
import { brokerConfigInput } from '../support/broker-config-input.js';

/** Args factories: resources as a program would declare them, to be bent by each test. */
let counter = 0;
export function resource(type: string, inputs: Record<string, unknown>, name = `r${++counter}`): ResourceUnderTest {
  return { type, name, urn: `urn:pulumi:test::p::${type}::${name}`, inputs };
}

/** The renderer's output for a typical broker; `extra` adds inputs such as a CRL. */
export function goodConf(extra: Partial<Parameters<typeof renderMosquittoConf>[0]> = {}): string {
  return renderMosquittoConf(brokerConfigInput(extra));
}
export const GOOD_CONF = goodConf();
export const GOOD_ACL = renderAclFile({ serviceIdentity: 'key-service.svc' });

export function brokerContainer(files: { conf?: string; acl?: string | undefined; extra?: { file: string; content: string }[] } = {}, inputs: Record<string, unknown> = {}) {
  const uploads = [
    { file: '/mosquitto/config/mosquitto.conf', content: files.conf ?? GOOD_CONF },
    ...('acl' in files && files.acl === undefined ? [] : [{ file: '/mosquitto/config/acl', content: files.acl ?? GOOD_ACL }]),
    ...(files.extra ?? []),
  ];
  return resource('docker:index/container:Container', {
    image: 'eclipse-mosquitto:2.0.20',
    command: ['mosquitto', '-c', '/mosquitto/config/mosquitto.conf'],
    uploads,
    readOnly: true,
    capabilities: { drops: ['ALL'] },
    healthcheck: { tests: ['CMD-SHELL', 'true'] },
    ...inputs,
  });
}

export function appContainer(inputs: Record<string, unknown> = {}) {
  return resource('docker:index/container:Container', {
    image: 'sha256:abc',
    envs: ['KEY_SERVICE_CLIENT_KEY_FILE=/etc/key-service/tls/client.key'],
    readOnly: true,
    capabilities: { drops: ['ALL'] },
    healthcheck: { tests: ['CMD', 'true'] },
    ...inputs,
  });
}

/** Violation messages of one policy for these resources. */
export async function violations(policy: ResourceValidationPolicy, resources: ResourceUnderTest[], config: Record<string, unknown> = {}): Promise<string[]> {
  const [outcome] = await runPolicies([policy], resources, { [policy.name]: config });
  return outcome!.violations.map((v) => v.message);
}
