import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import * as tls from '@pulumi/tls';

const STRONG_CURVES = ['P256', 'P384', 'P521'];

/** Mandatory: keys strong enough for a certificate that lives for months. */
export const tlsKeyStrength: ResourceValidationPolicy = {
  name: 'tls-key-strength',
  description:
    'tls.PrivateKey uses RSA of at least minRsaBits (default 2048) or ECDSA on P-256 or larger. An ECDSA key without ' +
    'ecdsaCurve gets the provider default, P-224, and fails.',
  enforcementLevel: 'mandatory',
  configSchema: { properties: { minRsaBits: { type: 'integer', default: 2048, minimum: 2048 } } },
  validateResource: validateResourceOfType(tls.PrivateKey, (key, args, reportViolation) => {
    const { minRsaBits = 2048 } = args.getConfig<{ minRsaBits?: number }>();
    if (key.algorithm === 'RSA') {
      const bits = key.rsaBits ?? 2048;
      if (bits < minRsaBits) reportViolation(`RSA key of ${bits} bits; at least ${minRsaBits} required.`);
    } else if (key.algorithm === 'ECDSA') {
      const curve = key.ecdsaCurve ?? 'P224';
      if (!STRONG_CURVES.includes(curve)) reportViolation(`ECDSA key on ${curve}${key.ecdsaCurve ? '' : ' (the provider default)'}; use P256 or larger.`);
    }
  }),
};
