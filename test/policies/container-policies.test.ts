import { describe, expect, it } from 'vitest';
import { certificateEarlyRenewal, containerHealthcheck, containerReadOnlyRoot, imagePinned, publishedPortsLoopback } from '../../policies/advisory-hardening.js';
import { containerLeastPrivilege } from '../../policies/container-least-privilege.js';
import { containerSecrets } from '../../policies/container-secrets.js';
import { appContainer, resource, violations } from './policy-args.js';

const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----';

describe('container-no-secrets-in-config', () => {
  it('passes file paths, refuses keys and passwords in env, labels and command', async () => {
    expect(await violations(containerSecrets, [appContainer()])).toEqual([]);
    const found = await violations(containerSecrets, [
      appContainer({
        envs: [`DEVICE_KEY=${KEY}`, 'DB_PASSWORD=hunter2', 'DB_PASSWORD_FILE=/run/secrets/db'],
        labels: [{ label: 'tls.key', value: KEY }],
        command: ['mosquitto_pub', '--password=hunter2'],
      }),
    ]);
    expect(found).toEqual([
      'Environment variable DEVICE_KEY holds a private key.',
      'Environment variable DB_PASSWORD holds a secret value; pass a file path instead.',
      'Label tls.key holds secret material.',
      'The command passes a password-like argument.',
    ]);
  });
});

describe('container-least-privilege', () => {
  it('passes dropped capabilities, refuses privileged, host network, the Docker socket and kept capabilities', async () => {
    expect(await violations(containerLeastPrivilege, [appContainer()])).toEqual([]);
    const found = await violations(containerLeastPrivilege, [
      appContainer({ privileged: true, networkMode: 'host', volumes: [{ hostPath: '/var/run/docker.sock', containerPath: '/var/run/docker.sock' }], capabilities: { drops: ['NET_RAW'] } }),
    ]);
    expect(found).toHaveLength(4);
  });
});

describe('advisory policies', () => {
  it('each passes the hardened case and flags the unhardened one', async () => {
    expect(await violations(containerReadOnlyRoot, [appContainer()])).toEqual([]);
    expect(await violations(containerReadOnlyRoot, [appContainer({ readOnly: false })])).toHaveLength(1);
    expect(await violations(containerHealthcheck, [appContainer()])).toEqual([]);
    expect(await violations(containerHealthcheck, [appContainer({ healthcheck: undefined })])).toHaveLength(1);
    const image = (name: string) => resource('docker:index/remoteImage:RemoteImage', { name });
    expect(await violations(imagePinned, [image('eclipse-mosquitto:2.0.20'), image(`registry:5000/x@sha256:${'a'.repeat(64)}`)])).toEqual([]);
    expect(await violations(imagePinned, [image('eclipse-mosquitto:latest'), image('eclipse-mosquitto'), image('registry:5000/mosquitto')])).toHaveLength(3);
    expect(await violations(publishedPortsLoopback, [appContainer({ ports: [{ internal: 8883, external: 8883, ip: '127.0.0.1' }] })])).toEqual([]);
    expect(await violations(publishedPortsLoopback, [appContainer({ ports: [{ internal: 8883, external: 8883 }] })])).toEqual(['Port 8883 is published on 0.0.0.0.']);
    expect(await violations(publishedPortsLoopback, [appContainer({ ports: [{ internal: 8883, external: 8883, ip: '10.0.0.5' }] })], { allowedBindAddresses: ['10.0.0.5'] })).toEqual([]);
    const cert = (inputs: Record<string, unknown>) => resource('tls:index/selfSignedCert:SelfSignedCert', inputs);
    expect(await violations(certificateEarlyRenewal, [cert({ earlyRenewalHours: 24 })])).toEqual([]);
    expect(await violations(certificateEarlyRenewal, [cert({})])).toHaveLength(1);
  });
});
