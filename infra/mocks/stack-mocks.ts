import { createHash } from 'node:crypto';
import type * as pulumi from '@pulumi/pulumi';
import { emulateCertRequest, emulateLocallySignedCert, emulatePrivateKey, emulateSelfSignedCert } from './tls-emulation.js';

/** One resource as the program declared it, with the state the emulation gave back. */
export interface DeclaredResource {
  type: string;
  name: string;
  urn: string;
  /** Inputs with secret markers removed: what the provider would receive. */
  inputs: Record<string, unknown>;
  /** Dotted paths of inputs that arrived as Pulumi secrets, e.g. `uploads.4.content`. */
  secretInputs: string[];
  state: Record<string, unknown>;
}

/** The engine's marker for a secret value on the wire. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';

/** Removes secret markers, collecting where they were. */
export function unwrapSecrets(value: unknown, path: string[] = [], found: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((item, i) => unwrapSecrets(item, [...path, String(i)], found));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record[SECRET_SIG] === SECRET_VALUE) {
      found.push(path.join('.'));
      return unwrapSecrets(record.value, path, []);
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v, [...path, k], found)]));
  }
  return value;
}

const digest = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/**
 * Pulumi mocks that stand in for the engine and providers: tls resources get real cryptography,
 * docker resources get the state the provider would compute (ids, digests), and every declared
 * resource is recorded for tests, the policy report and the container harness.
 */
export class StackMocks implements pulumi.runtime.Mocks {
  readonly resources: DeclaredResource[] = [];

  async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, unknown> }> {
    const secretInputs: string[] = [];
    const inputs = unwrapSecrets(args.inputs, [], secretInputs) as Record<string, unknown>;
    const state = await this.emulate(args.type, args.name, inputs);
    const urn = `urn:pulumi:mock::secure-mqtt-stack::${args.type}::${args.name}`;
    this.resources.push({ type: args.type, name: args.name, urn, inputs, secretInputs, state });
    return { id: `${args.name}-id`, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs as Record<string, unknown>;
  }

  private async emulate(type: string, name: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (type) {
      case 'tls:index/privateKey:PrivateKey':
        return emulatePrivateKey(inputs);
      case 'tls:index/selfSignedCert:SelfSignedCert':
        return emulateSelfSignedCert(inputs);
      case 'tls:index/certRequest:CertRequest':
        return emulateCertRequest(inputs);
      case 'tls:index/locallySignedCert:LocallySignedCert':
        return emulateLocallySignedCert(inputs);
      case 'docker:index/remoteImage:RemoteImage':
        return { ...inputs, imageId: digest(String(inputs.name)), repoDigest: `${String(inputs.name)}@${digest(String(inputs.name))}` };
      case 'docker:index/image:Image':
        return { ...inputs, repoDigest: `${String(inputs.imageName)}@${digest(name)}`, baseImageName: inputs.imageName };
      case 'docker:index/network:Network':
      case 'docker:index/volume:Volume':
        return { ...inputs, name: inputs.name ?? name };
      default:
        return inputs;
    }
  }

  ofType(type: string): DeclaredResource[] {
    return this.resources.filter((r) => r.type === type);
  }
}
