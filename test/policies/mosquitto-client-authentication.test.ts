import { describe, expect, it } from 'vitest';
import { mosquittoClientAuthentication } from '../../policies/mosquitto-client-authentication.js';
import { brokerContainer, GOOD_CONF, violations } from './policy-args.js';

describe('mosquitto-client-authentication', () => {
  it('passes certificate-only clients with identities from the certificate', async () => {
    expect(await violations(mosquittoClientAuthentication, [brokerContainer()])).toEqual([]);
  });

  it('refuses optional client certificates, anonymous access, and identities from nowhere', async () => {
    const conf = GOOD_CONF.replace('require_certificate true', 'require_certificate false')
      .replace('allow_anonymous false', 'allow_anonymous true')
      .replace('use_identity_as_username true', '');
    const found = await violations(mosquittoClientAuthentication, [brokerContainer({ conf })]);
    expect(found).toHaveLength(3);
    expect(found.join('\n')).toMatch(/require_certificate must be true[\s\S]*allow_anonymous must be false[\s\S]*use_identity_as_username/);
  });

  it('accepts a password file as the identity source, and reads per-listener auth when per_listener_settings is true', async () => {
    const withPasswords = GOOD_CONF.replace('use_identity_as_username true', 'password_file /mosquitto/config/passwd');
    expect(await violations(mosquittoClientAuthentication, [brokerContainer({ conf: withPasswords })])).toEqual([]);
    const perListener = GOOD_CONF.replace('per_listener_settings false', 'per_listener_settings true');
    // allow_anonymous now sits at top level, outside the listener: it no longer applies to it.
    expect(await violations(mosquittoClientAuthentication, [brokerContainer({ conf: perListener })])).toEqual([expect.stringContaining('allow_anonymous must be false')]);
  });
});
