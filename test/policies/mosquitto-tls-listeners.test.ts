import { describe, expect, it } from 'vitest';
import { mosquittoTlsListeners } from '../../policies/mosquitto-tls-listeners.js';
import { appContainer, brokerContainer, GOOD_CONF, violations } from './policy-args.js';

describe('mosquitto-tls-listeners', () => {
  it('passes the rendered configuration, and ignores containers that are not Mosquitto', async () => {
    expect(await violations(mosquittoTlsListeners, [brokerContainer(), appContainer()])).toEqual([]);
  });

  it('refuses an old or missing tls_version', async () => {
    expect(await violations(mosquittoTlsListeners, [brokerContainer({ conf: GOOD_CONF.replace('tls_version tlsv1.2', 'tls_version tlsv1.1') })])).toEqual([
      expect.stringContaining('must set tls_version tlsv1.2 or tlsv1.3 explicitly (found tlsv1.1)'),
    ]);
    expect(await violations(mosquittoTlsListeners, [brokerContainer({ conf: GOOD_CONF.replace('tls_version tlsv1.2\n', '') })])).toEqual([
      expect.stringContaining('(found none)'),
    ]);
  });

  it('refuses an extra plain listener, also one added through include_dir', async () => {
    const plain = await violations(mosquittoTlsListeners, [brokerContainer({ conf: `${GOOD_CONF}\nlistener 1883\n` })]);
    expect(plain.join('\n')).toMatch(/listener 1883 .* no certfile\/keyfile/);
    const included = await violations(mosquittoTlsListeners, [
      brokerContainer({ conf: `${GOOD_CONF}include_dir /mosquitto/config/conf.d\n`, extra: [{ file: '/mosquitto/config/conf.d/plain.conf', content: '# debug\nlistener 1884\n' }] }),
    ]);
    expect(included.join('\n')).toMatch(/listener 1884 \(\/mosquitto\/config\/conf.d\/plain.conf:2\)/);
  });

  it('refuses a default listener opened by top-level settings, and a config without listeners', async () => {
    const topLevel = await violations(mosquittoTlsListeners, [brokerContainer({ conf: `port 1883\n${GOOD_CONF}` })]);
    expect(topLevel.join('\n')).toContain('open a default listener');
    const none = await violations(mosquittoTlsListeners, [brokerContainer({ conf: 'allow_anonymous false\n' })]);
    expect(none).toEqual([expect.stringContaining('defines no listener')]);
  });

  it('refuses weak cipher suites', async () => {
    const weak = await violations(mosquittoTlsListeners, [brokerContainer({ conf: GOOD_CONF.replace(/^ciphers .*$/m, 'ciphers ECDHE-RSA-AES128-GCM-SHA256:DES-CBC3-SHA') })]);
    expect(weak).toEqual([expect.stringContaining('weak suites')]);
  });

  it('does not mistake comments for settings', async () => {
    expect(await violations(mosquittoTlsListeners, [brokerContainer({ conf: `${GOOD_CONF}\n# listener 1883\n  # tls_version tlsv1.0\n` })])).toEqual([]);
  });
});
