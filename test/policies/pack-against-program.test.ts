import { beforeAll, describe, expect, it } from 'vitest';
import { declareUnderMocks } from '../../infra/mocks/declare-under-mocks.js';
import type { DeclaredResource } from '../../infra/mocks/stack-mocks.js';
import { POLICIES } from '../../policies/all-policies.js';
import { runPolicies } from '../../policies/harness/run-policies.js';
import { markdownReport } from '../../policies/report/markdown-report.js';

/** The whole pack against the resources the real program declares (dev, under mocks), then mutated copies. */
let resources: DeclaredResource[];
beforeAll(async () => {
  resources = (await declareUnderMocks('dev')).mocks.resources;
}, 60_000);

const mandatoryFailures = async (stack: DeclaredResource[]) =>
  (await runPolicies(POLICIES, stack)).filter((o) => o.enforcementLevel === 'mandatory' && o.violations.length > 0).map((o) => o.policy);

/** A deep copy of the stack with one resource changed. */
function mutate(select: (r: DeclaredResource) => boolean, change: (inputs: Record<string, unknown>) => void): DeclaredResource[] {
  const copy = structuredClone(resources);
  const target = copy.find(select);
  if (!target) throw new Error('no resource to mutate');
  change(target.inputs);
  return copy;
}

const isBroker = (r: DeclaredResource) => r.name === 'broker-config-loader';
const editUpload = (file: string, edit: (text: string) => string) => (inputs: Record<string, unknown>) => {
  const upload = (inputs.uploads as { file: string; content: string }[]).find((u) => u.file === file)!;
  upload.content = edit(upload.content);
};
const conf = (edit: (text: string) => string) => editUpload('/mosquitto/config/mosquitto.conf', edit);
/** Flips one bit inside the CRL's signature (its last bytes), keeping the PEM well-formed. */
const flipSignatureBit = (pem: string) => {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 3]! ^= 0x01;
  return `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
};

describe('the pack against the program', () => {
  it('finds no mandatory violation in the dev stack as declared, and reports it as a table', async () => {
    const outcomes = await runPolicies(POLICIES, resources);
    expect(outcomes.filter((o) => o.violations.length > 0)).toEqual([]);
    const report = markdownReport('dev', outcomes);
    expect(report).toContain('All mandatory policies pass.');
    expect(report.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Policy') && !l.startsWith('| ---'))).toHaveLength(POLICIES.length);
  });

  const cases: [string, string, DeclaredResource[] | (() => DeclaredResource[])][] = [
    ['tls_version tlsv1.1', 'mosquitto-tls-listeners', () => mutate(isBroker, conf((t) => t.replace('tls_version tlsv1.2', 'tls_version tlsv1.1')))],
    ['an extra plain listener 1883', 'mosquitto-tls-listeners', () => mutate(isBroker, conf((t) => `${t}\nlistener 1883\n`))],
    ['require_certificate false', 'mosquitto-client-authentication', () => mutate(isBroker, conf((t) => t.replace('require_certificate true', 'require_certificate false')))],
    ['a device write rule on #', 'mosquitto-acl', () => mutate(isBroker, editUpload('/mosquitto/config/acl', (t) => `pattern write #\n${t}`))],
    ['no crlfile', 'mosquitto-revocation-list', () => mutate(isBroker, conf((t) => t.replace(/^crlfile .*\n/m, '')))],
    ['a CRL that does not verify', 'mosquitto-revocation-list', () => mutate(isBroker, editUpload('/mosquitto/config/certs/crl.pem', flipSignatureBit))],
    ['a 1024-bit RSA device key', 'tls-key-strength', () => mutate((r) => r.name === 'pki-device-sensor-0002' && r.type.endsWith('PrivateKey'), (i) => Object.assign(i, { algorithm: 'RSA', rsaBits: 1024, ecdsaCurve: undefined }))],
    ['a device certificate valid for 800 days', 'tls-certificate-roles', () => mutate((r) => r.name === 'pki-device-sensor-0002' && r.type.endsWith('LocallySignedCert'), (i) => Object.assign(i, { validityPeriodHours: 800 * 24 }))],
    ['a privileged fleet container', 'container-least-privilege', () => mutate((r) => r.name === 'fleet-0', (i) => Object.assign(i, { privileged: true }))],
    ['a broker whose configuration volume no loader fills', 'mosquitto-config-reviewable', () => mutate((r) => r.name === 'broker-config-loader', (i) => Object.assign(i, { volumes: [] }))],
    ['a private key in an env var', 'container-no-secrets-in-config', () =>
      mutate((r) => r.name === 'key-service-container', (i) => {
        const loader = resources.find((r) => r.name === 'key-service-config-loader')!;
        const key = (loader.inputs.uploads as { file: string; content: string }[]).find((u) => u.file.endsWith('client.key'))!.content;
        (i.envs as string[]).push(`KEY_SERVICE_CLIENT_KEY=${key}`);
      })],
  ];
  for (const [mutation, policy, stack] of cases) {
    it(`catches ${mutation} by ${policy} alone`, async () => {
      expect(await mandatoryFailures(typeof stack === 'function' ? stack() : stack)).toEqual([policy]);
    });
  }
});
