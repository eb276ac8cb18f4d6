import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { declareUnderMocks, settle, type DeclaredStack } from '../../infra/mocks/declare-under-mocks.js';
import type { DeclaredResource } from '../../infra/mocks/stack-mocks.js';
import { pemToDer, TrustStore } from '../../protocol/certificates.js';

/**
 * The Pulumi program run under mocks (no engine here), with the tls provider emulated by real
 * cryptography: these tests check real certificates and the exact container specs the program declares.
 */
const CONTAINER = 'docker:index/container:Container';
const SIGNED = 'tls:index/locallySignedCert:LocallySignedCert';
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

let dev: DeclaredStack;
beforeAll(async () => {
  dev = await declareUnderMocks('dev');
}, 60_000);

/** True if the input at this path, or a value enclosing it, arrived as a secret. */
const isSecretAt = (resource: DeclaredResource, path: string) =>
  resource.secretInputs.some((secret) => path === secret || path.startsWith(`${secret}.`));
const containers = (stack: DeclaredStack) => stack.mocks.ofType(CONTAINER);
/** Containers that run; loaders (created, never started) only carry files into config volumes. */
const running = (stack: DeclaredStack) => containers(stack).filter((c) => c.inputs.start !== false);
const loaderFor = (stack: DeclaredStack, consumer: string) => containers(stack).find((c) => c.name === `${consumer}-config-loader`)!;
const uploads = (container: DeclaredResource) => (container.inputs.uploads ?? []) as { file: string; content: string; owner: string; permissions: string }[];
const certOf = (stack: DeclaredStack, name: string) => new X509Certificate(String(stack.mocks.ofType(SIGNED).find((r) => r.name === name)!.state.certPem));

describe('PKI', () => {
  it('issues every device a certificate that chains to the CA, with CN = device id and client-auth', async () => {
    const ca = new X509Certificate((await settle(dev.outputs.caCertPem)).value);
    expect(ca.ca).toBe(true);
    const trust = new TrustStore(ca.toString());
    expect(dev.outputs.deviceIds).toEqual(['sensor-0001', 'sensor-0002', 'sensor-0003']);
    for (const id of dev.outputs.deviceIds) {
      const cert = certOf(dev, `pki-device-${id}`);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.subject).toContain(`CN=${id}`);
      expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
      // The runtime's own verifier accepts it: the deployed PKI and the protocol agree.
      expect(() => trust.verifyDeviceCertificate(pemToDer(cert.toString()), id, Date.now())).not.toThrow();
    }
    // fleet.rsaDevices = 1 in dev: the first device has an RSA key, the others ECDSA P-256.
    const keys = dev.outputs.deviceIds.map((id) => certOf(dev, `pki-device-${id}`).publicKey.asymmetricKeyType);
    expect(keys).toEqual(['rsa', 'ec', 'ec']);
  });

  it('gives the broker a server certificate for its network name, localhost and 127.0.0.1', () => {
    const cert = certOf(dev, 'pki-broker');
    expect(cert.subjectAltName?.split(', ').sort()).toEqual(['DNS:localhost', 'DNS:smqtt-dev-broker', 'IP Address:127.0.0.1']);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.checkHost('smqtt-dev-broker')).toBe('smqtt-dev-broker');
  });

  it('gives the key service key-agreement certificates that devices accept for each scheme', async () => {
    const trust = new TrustStore((await settle(dev.outputs.caCertPem)).value);
    const ec = certOf(dev, 'pki-key-service-kex-ec').toString();
    const rsa = certOf(dev, 'pki-key-service-kex-rsa').toString();
    expect(() => trust.verifyServiceCertificate(pemToDer(ec), 'key-service.svc', 'ecdhP256', Date.now())).not.toThrow();
    expect(() => trust.verifyServiceCertificate(pemToDer(rsa), 'key-service.svc', 'rsaOaepSha256', Date.now())).not.toThrow();
  });

  it('never uses the provider default curve (P-224), and no leaf is a CA', () => {
    for (const key of dev.mocks.ofType('tls:index/privateKey:PrivateKey')) {
      if (key.inputs.algorithm === 'ECDSA') expect(key.inputs.ecdsaCurve).toBe('P256');
      else expect(Number(key.inputs.rsaBits)).toBeGreaterThanOrEqual(2048);
    }
    for (const leaf of dev.mocks.ofType(SIGNED)) expect(new X509Certificate(String(leaf.state.certPem)).ca).toBe(false);
  });

  it('issues leaves for the configured 30 days, the CA with cert and CRL signing only', () => {
    const leaf = certOf(dev, 'pki-device-sensor-0001');
    const days = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000;
    expect(days).toBe(30);
    const ca = dev.mocks.ofType('tls:index/selfSignedCert:SelfSignedCert')[0]!;
    expect(ca.inputs).toMatchObject({ isCaCertificate: true, allowedUses: ['cert_signing', 'crl_signing'] });
  });

  it('keeps private keys secret: as outputs and as inputs wherever they are used', async () => {
    for (const issued of [dev.outputs.pki.broker, dev.outputs.pki.service, ...Object.values(dev.outputs.pki.devices)]) {
      expect((await settle(issued.keyPem)).secret).toBe(true);
    }
    for (const container of containers(dev)) {
      uploads(container).forEach((file, i) => {
        if (PRIVATE_KEY.test(file.content)) expect(isSecretAt(container, `uploads.${i}.content`)).toBe(true);
      });
    }
  });
});

describe('broker', () => {
  const broker = () => containers(dev).find((c) => c.name === 'broker-container')!;
  const file = (name: string) => uploads(loaderFor(dev, 'broker')).find((u) => u.file === name)!;

  it('uploads a mosquitto.conf with one listener, TLS 1.2+, client certificates required, no anonymous access', () => {
    const conf = file('/mosquitto/config/mosquitto.conf').content;
    const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.filter((l) => l.startsWith('listener '))).toEqual(['listener 8883']);
    for (const setting of ['allow_anonymous false', 'require_certificate true', 'use_identity_as_username true', 'tls_version tlsv1.2', 'acl_file /mosquitto/config/acl', 'cafile /mosquitto/config/certs/ca.crt']) {
      expect(lines).toContain(setting);
    }
  });

  it('uploads the ACL: each device writes only its own telemetry and kex topics, reads only its own control topic', () => {
    const acl = file('/mosquitto/config/acl').content.split('\n').filter((l) => l.startsWith('pattern'));
    expect(acl).toEqual([
      'pattern write devices/%u/telemetry',
      'pattern write devices/%u/kex',
      'pattern read devices/%u/control',
      'pattern read services/key-service/certificates',
    ]);
  });

  it('hands the key to the mosquitto user, readable by it alone', () => {
    expect(file('/mosquitto/config/certs/broker.key')).toMatchObject({ owner: '1883', permissions: '0400' });
    expect(broker().inputs.user).toBe('1883:1883');
  });

  it('publishes the port on 127.0.0.1 only in dev, keeps data on a volume, and checks its health', () => {
    expect(broker().inputs.ports).toEqual([{ internal: 8883, external: 8883, ip: '127.0.0.1' }]);
    expect(broker().inputs.volumes).toEqual([
      { volumeName: 'smqtt-dev-broker-config', containerPath: '/mosquitto/config', readOnly: true },
      { volumeName: 'smqtt-dev-broker-data', containerPath: '/mosquitto/data' },
    ]);
    // A listening-socket check that opens no connection (see listeningCheck): 8883 is 22B3.
    expect(broker().inputs.healthcheck).toMatchObject({ tests: ['CMD-SHELL', expect.stringMatching(/:22B3 .*\/proc\/net\/tcp /)] });
  });
});

describe('containers', () => {
  it('every container is hardened: read-only root, all capabilities dropped, no-new-privileges, not privileged, non-root, restarted', () => {
    expect(running(dev).map((c) => c.name).sort()).toEqual(['broker-container', 'fleet-0', 'key-service-container']);
    for (const c of running(dev)) {
      expect(c.inputs).toMatchObject({ readOnly: true, privileged: false, capabilities: { drops: ['ALL'] }, restart: 'unless-stopped' });
      expect(c.inputs.securityOpts).toContain('no-new-privileges:true');
      expect(String(c.inputs.user)).not.toMatch(/^(0|root)\b/);
      expect(c.inputs.networkMode).toBeUndefined();
      expect((c.inputs.networksAdvanced as { name: string }[]).map((n) => n.name)).toEqual(['smqtt-dev-net']);
      expect(JSON.stringify(c.inputs.volumes ?? [])).not.toContain('docker.sock');
    }
  });

  it('files reach read-only containers through a config volume filled by a loader that never runs', () => {
    for (const consumer of ['broker', 'key-service', 'fleet-0']) {
      const loader = loaderFor(dev, consumer);
      expect(loader.inputs).toMatchObject({ start: false, networkMode: 'none', capabilities: { drops: ['ALL'] } });
      const volume = (loader.inputs.volumes as { volumeName: string }[])[0]!.volumeName;
      const main = containers(dev).find((c) => c.name === (consumer === 'fleet-0' ? 'fleet-0' : `${consumer}-container`))!;
      expect(main.inputs.uploads ?? []).toEqual([]);
      expect(main.inputs.volumes).toContainEqual(expect.objectContaining({ volumeName: volume, readOnly: true }));
      // The consumer carries a digest of its files, so new files replace it.
      expect((main.inputs.labels as { label: string; value: string }[])[0]).toMatchObject({ label: 'secure-mqtt-stack/config-sha256', value: expect.stringMatching(/^[0-9a-f]{64}$/) });
    }
  });

  it('no env var, label or command carries key material; keys arrive as 0400 files', () => {
    for (const c of containers(dev)) {
      const exposed = JSON.stringify([c.inputs.envs ?? [], c.inputs.labels ?? [], c.inputs.command ?? [], c.inputs.entrypoints ?? []]);
      expect(exposed).not.toMatch(/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);
      for (const u of uploads(c).filter((u) => PRIVATE_KEY.test(u.content))) expect(u.permissions).toBe('0400');
    }
  });

  it('the key service gets file paths for every key, its own image build with a base-image argument, and a readiness check', () => {
    const service = containers(dev).find((c) => c.name === 'key-service-container')!;
    const envs = Object.fromEntries((service.inputs.envs as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
    const files = new Set(uploads(loaderFor(dev, 'key-service')).map((u) => u.file));
    for (const key of ['KEY_SERVICE_CLIENT_KEY_FILE', 'KEY_SERVICE_KEX_EC_KEY_FILE', 'KEY_SERVICE_KEX_RSA_KEY_FILE', 'KEY_SERVICE_CA_CERT_FILE']) {
      expect(files.has(envs[key]!)).toBe(true);
    }
    expect(envs.KEY_SERVICE_MQTT_URL).toBe('mqtts://smqtt-dev-broker:8883');
    const image = dev.mocks.ofType('docker:index/image:Image').find((i) => i.name === 'key-service-image')!;
    expect(image.inputs.build).toMatchObject({ args: { BASE_IMAGE: 'node:20.19-bookworm-slim' }, dockerfile: expect.stringMatching(/services\/key-service\/Dockerfile$/) });
    expect(JSON.stringify(service.inputs.healthcheck)).toContain('/readyz');
  });

  it('each fleet container lists only its devices and carries only their keys', () => {
    const fleet = loaderFor(dev, 'fleet-0');
    const manifest = JSON.parse(uploads(fleet).find((u) => u.file === '/etc/device-sim/devices.json')!.content) as { id: string }[];
    expect(manifest.map((d) => d.id)).toEqual(dev.outputs.deviceIds);
    expect(uploads(fleet).filter((u) => PRIVATE_KEY.test(u.content))).toHaveLength(3);
  });
});
