import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import { setting } from '../broker-config/mosquitto-conf-parser.js';
import { brokerConfigOf } from './resource-facts.js';

/** Mandatory: clients prove who they are with a CA-issued certificate; nobody is anonymous. */
export const mosquittoClientAuthentication: ResourceValidationPolicy = {
  name: 'mosquitto-client-authentication',
  description:
    'Every Mosquitto listener requires a client certificate (require_certificate true), allow_anonymous is false, and the ' +
    'MQTT identity comes from the certificate (use_identity_as_username true) or a password file.',
  enforcementLevel: 'mandatory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    const broker = brokerConfigOf(container);
    if (broker.kind !== 'found') return;
    const { conf } = broker;
    // Listeners without TLS are the transport policy's finding; client certificates presuppose TLS.
    for (const listener of conf.listeners.filter((l) => setting(conf, l, 'certfile'))) {
      const where = `listener ${listener.port} (${listener.origin})`;
      if (setting(conf, listener, 'require_certificate') !== 'true') reportViolation(`${where}: require_certificate must be true.`);
      if (setting(conf, listener, 'allow_anonymous') !== 'false') reportViolation(`${where}: allow_anonymous must be false.`);
      const fromCertificate = setting(conf, listener, 'use_identity_as_username') === 'true' || setting(conf, listener, 'use_subject_as_username') === 'true';
      if (!fromCertificate && !setting(conf, listener, 'password_file')) {
        reportViolation(`${where}: the user name must come from the certificate (use_identity_as_username true) or a password_file.`);
      }
    }
  }),
};
