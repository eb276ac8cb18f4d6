import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { declareUnderMocks, stackConfigFile, type DeclaredStack } from '../../infra/mocks/declare-under-mocks.js';
import { readStackConfig, StackConfigError } from '../../infra/stack-config.js';
import { normalizeSerial, readRevocationList } from '../../revocation/index.js';

/** Resources by name with their inputs; key and certificate material, and digests of it, blanked (fresh each run). */
function shape(stack: DeclaredStack): Map<string, string> {
  const blank = (text: string) =>
    text.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----\n?/g, '<$1>').replace(/config-sha256","value":"[0-9a-f]{64}"/g, 'config-sha256","value":"<digest>"');
  return new Map(stack.mocks.resources.map((r) => [`${r.type}::${r.name}`, blank(JSON.stringify(r.inputs))]));
}

describe('stack variants under mocks', () => {
  it('changing fleet.size adds only that device\'s certificate and fleet resources', async () => {
    const before = shape(await declareUnderMocks('dev'));
    const after = shape(await declareUnderMocks('dev', { fleet: { ...(stackConfigFile('dev').fleet as object), size: 4 } }));
    const added = [...after.keys()].filter((k) => !before.has(k));
    expect(added.sort()).toEqual([
      'tls:index/certRequest:CertRequest::pki-device-sensor-0004',
      'tls:index/locallySignedCert:LocallySignedCert::pki-device-sensor-0004',
      'tls:index/privateKey:PrivateKey::pki-device-sensor-0004',
    ]);
    const changed = [...before.keys()].filter((k) => after.get(k) !== before.get(k));
    // Only the fleet's config loader changes: it gains the new device's files.
    expect(changed).toEqual(['docker:index/container:Container::fleet-0-config-loader']);
  }, 90_000);

  it('builds staging: TLS 1.3 only, 90-day leaves, a remote docker host, the fleet spread over containers', async () => {
    const staging = await declareUnderMocks('staging');
    const conf = (staging.mocks.ofType('docker:index/container:Container').find((c) => c.name === 'broker-config-loader')!.inputs.uploads as { file: string; content: string }[])
      .find((u) => u.file === '/mosquitto/config/mosquitto.conf')!.content;
    expect(conf).toContain('tls_version tlsv1.3');
    expect(staging.mocks.ofType('pulumi:providers:docker')[0]!.inputs.host).toBe('ssh://deploy@telemetry-staging.internal');
    expect(staging.mocks.ofType('docker:index/container:Container').filter((c) => /^fleet-\d+$/.test(c.name))).toHaveLength(4);
    const leaf = new X509Certificate(String(staging.mocks.ofType('tls:index/locallySignedCert:LocallySignedCert').find((r) => r.name === 'pki-device-sensor-0001')!.state.certPem));
    expect((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000).toBe(90);
    expect(staging.outputs.brokerEndpoint).toBe('mqtts://telemetry-staging.internal:8883');
  }, 120_000);

  it('revokes and blocks through config: the CRL in the broker and service volumes lists the device (not deployed); the ACL denies a blocked one', async () => {
    const dev = stackConfigFile('dev');
    const stack = await declareUnderMocks('dev', {
      pki: { ...(dev.pki as object), revokedDevices: ['sensor-0002'], revokedSerials: ['0x0A:1B'] },
      broker: { ...(dev.broker as object), blockedDevices: ['sensor-0003'] },
    });
    const uploads = (loader: string) =>
      stack.mocks.ofType('docker:index/container:Container').find((c) => c.name === loader)!.inputs.uploads as { file: string; content: string }[];
    const brokerFiles = uploads('broker-config-loader');
    const crlPem = brokerFiles.find((u) => u.file === '/mosquitto/config/certs/crl.pem')!.content;
    expect(brokerFiles.find((u) => u.file === '/mosquitto/config/mosquitto.conf')!.content).toContain('crlfile /mosquitto/config/certs/crl.pem');
    expect(uploads('key-service-config-loader').find((u) => u.file.endsWith('/crl.pem'))!.content).toBe(crlPem);

    const caPem = String(stack.mocks.ofType('tls:index/selfSignedCert:SelfSignedCert')[0]!.state.certPem);
    const list = await readRevocationList(crlPem, caPem, new Date());
    const revokedCert = String(stack.mocks.ofType('tls:index/locallySignedCert:LocallySignedCert').find((r) => r.name === 'pki-device-sensor-0002')!.state.certPem);
    expect([...list.revokedSerials].sort()).toEqual([normalizeSerial(new X509Certificate(revokedCert).serialNumber), '0A1B'].sort());
    // Valid for at least one more CRL period (7 days in dev).
    expect(list.nextUpdate!.getTime() - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);

    const fleetFiles = uploads('fleet-0-config-loader').map((u) => u.file);
    expect(fleetFiles.some((f) => f.includes('sensor-0002'))).toBe(false);
    expect(fleetFiles.some((f) => f.includes('sensor-0001'))).toBe(true);
    const env = stack.mocks.ofType('docker:index/container:Container').find((c) => c.name === 'key-service-container')!.inputs.envs as string[];
    expect(env).toContain('KEY_SERVICE_CRL_FILE=/etc/key-service/tls/crl.pem');
    // Cut off by config: the broker's ACL denies the device everything.
    expect(brokerFiles.find((u) => u.file === '/mosquitto/config/acl')!.content).toContain('user sensor-0003\ntopic deny #');
  }, 90_000);

  it('refuses bad configuration with one message naming each key and what it accepts', () => {
    const attempt = () =>
      readStackConfig((section) =>
        ({
          pki: { keyAlgorithm: 'dsa-1024', leafValidityDays: 900, revokedDevices: ['sensor-0099'], revokedSerials: [`0x${'AB'.repeat(32)}`], crlPeriodDays: 0 }, // 32 bytes: RFC 5280 allows 20
          broker: { image: 'eclipse-mosquitto:latest', tlsMinimumVersion: 'tlsv1.1', blockedDevices: ['-sensor'], telemetryReaders: ['auditor'] },
          fleet: { size: 0 },
          docker: { host: 'docker.example.com' },
        })[section],
      );
    expect(attempt).toThrow(StackConfigError);
    const message = (() => {
      try {
        attempt();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    for (const expected of [
      'secure-mqtt-stack:pki.keyAlgorithm must be one of ecdsa-p256, rsa-2048, rsa-3072, rsa-4096, got "dsa-1024"',
      'secure-mqtt-stack:pki.leafValidityDays must be an integer in 1..397, got 900',
      'secure-mqtt-stack:broker.image must be an image pinned to a tag other than latest',
      'secure-mqtt-stack:broker.tlsMinimumVersion must be one of tlsv1.2, tlsv1.3, got "tlsv1.1"',
      'secure-mqtt-stack:fleet.size must be an integer in 1..100000, got 0',
      'secure-mqtt-stack:docker.host must be a docker host URL',
      'secure-mqtt-stack:pki.crlPeriodDays must be an integer in 1..90, got 0',
      'secure-mqtt-stack:pki.revokedSerials must be a list of hex certificate serial numbers of at most 20 bytes',
      'secure-mqtt-stack:broker.blockedDevices must be a list of device ids such as sensor-0002, got ["-sensor"]',
      'secure-mqtt-stack:broker.telemetryReaders must be a list of dotted service identities such as auditor.svc, got ["auditor"]',
      'secure-mqtt-stack:pki.revokedDevices names devices outside the fleet (size 3): sensor-0099',
    ]) {
      expect(message).toContain(expected);
    }
  });
});
