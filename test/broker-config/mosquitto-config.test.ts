import { describe, expect, it } from 'vitest';
import { brokerConfigInput } from '../support/broker-config-input.js';
import { BrokerConfigError, renderAclFile, renderMosquittoConf, type MosquittoConfigInput } from '../../broker-config/mosquitto-config.js';

const input = (overrides: Partial<MosquittoConfigInput> = {}): MosquittoConfigInput =>
  brokerConfigInput({ persistenceLocation: '/mosquitto/data', ...overrides });

/** Directives as [name, value] pairs, comments and blank lines dropped. */
const directives = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('#'))
    .map((line) => {
      const [name = '', ...rest] = line.split(' ');
      return [name, rest.join(' ')] as const;
    });

describe('mosquitto.conf renderer', () => {
  it('declares exactly one listener, with mutual TLS and certificate identities', () => {
    const conf = directives(renderMosquittoConf(input()));
    expect(conf.filter(([name]) => name === 'listener')).toEqual([['listener', '8883']]);
    const settings = new Map(conf);
    expect(settings.get('allow_anonymous')).toBe('false');
    expect(settings.get('require_certificate')).toBe('true');
    expect(settings.get('use_identity_as_username')).toBe('true');
    expect(settings.get('tls_version')).toBe('tlsv1.2');
    expect(settings.get('per_listener_settings')).toBe('false');
    expect(settings.get('set_tcp_nodelay')).toBe('true');
    expect(settings.get('acl_file')).toBe('/mosquitto/config/acl');
    expect(settings.get('ciphers')).not.toMatch(/NULL|EXPORT|RC4|3DES|MD5|CBC/);
    // TLS settings come after the listener line, so they belong to it.
    const listenerAt = conf.findIndex(([name]) => name === 'listener');
    for (const name of ['cafile', 'certfile', 'keyfile', 'tls_version', 'require_certificate']) {
      expect(conf.findIndex(([n]) => n === name)).toBeGreaterThan(listenerAt);
    }
  });

  it('can require TLS 1.3 and binds where asked', () => {
    const conf = new Map(directives(renderMosquittoConf(input({ tlsMinimumVersion: 'tlsv1.3', bindAddress: '127.0.0.1' }))));
    expect(conf.get('tls_version')).toBe('tlsv1.3');
    expect(conf.get('listener')).toBe('8883 127.0.0.1');
  });

  it('refuses values that would inject directives, and out-of-range numbers', () => {
    expect(() => renderMosquittoConf(input({ caFile: '/x\nlistener 1883' }))).toThrow(BrokerConfigError);
    expect(() => renderMosquittoConf(input({ port: 70000 }))).toThrow(/port/);
    expect(() => renderMosquittoConf(input({ limits: { messageSizeLimit: 0 } }))).toThrow(/messageSizeLimit/);
    expect(() => renderMosquittoConf(input({ tlsMinimumVersion: 'tlsv1.1' as 'tlsv1.2' }))).toThrow(/tlsv1.2 or tlsv1.3/);
  });
});

describe('ACL renderer', () => {
  it('lets each device write only its own telemetry and kex topics and read only its own control topic', () => {
    const acl = directives(renderAclFile({ serviceIdentity: 'key-service.svc' }));
    const deviceRules = acl.slice(0, acl.findIndex(([name]) => name === 'user'));
    expect(deviceRules).toEqual([
      ['pattern', 'write devices/%u/telemetry'],
      ['pattern', 'write devices/%u/kex'],
      ['pattern', 'read devices/%u/control'],
      ['pattern', 'read services/key-service/certificates'],
    ]);
    expect(deviceRules.some(([, rule]) => rule.includes('#') || rule.includes('+'))).toBe(false);
  });

  it('gives telemetry readers read access only', () => {
    const text = renderAclFile({ serviceIdentity: 'key-service.svc', telemetryReaders: ['auditor.svc'] });
    const afterAuditor = text.slice(text.indexOf('user auditor.svc'));
    expect(afterAuditor).toContain('topic read devices/+/telemetry');
    expect(afterAuditor).not.toMatch(/write/);
  });

  it('cuts blocked devices off with their own deny rule, and takes only device ids', () => {
    const text = renderAclFile({ serviceIdentity: 'key-service.svc', blockedDevices: ['sensor-0007'] });
    expect(text.slice(text.indexOf('user sensor-0007'))).toMatch(/^user sensor-0007\ntopic deny #\n/);
    expect(() => renderAclFile({ serviceIdentity: 'key-service.svc', blockedDevices: ['key-service.svc'] })).toThrow(BrokerConfigError);
    expect(() => renderAclFile({ serviceIdentity: 'key-service.svc', blockedDevices: ['x\ntopic readwrite #'] })).toThrow(BrokerConfigError);
  });

  it('refuses service identities a device could also hold', () => {
    expect(() => renderAclFile({ serviceIdentity: 'key-service' })).toThrow(BrokerConfigError);
    expect(() => renderAclFile({ serviceIdentity: 'key-service.svc', telemetryReaders: ['x.svc\ntopic readwrite #'] })).toThrow(BrokerConfigError);
  });
});
