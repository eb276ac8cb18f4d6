import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import { setting } from '../broker-config/mosquitto-conf-parser.js';
import { brokerConfigOf } from './resource-facts.js';

const WEAK_CIPHERS = /(^|[:!+-])(e?NULL|a?NULL|EXPORT|EXP-|RC4|3DES|DES-CBC3|MD5)/i;

/** Mandatory: every Mosquitto listener speaks TLS 1.2 or newer, set explicitly; nothing listens in plain text. */
export const mosquittoTlsListeners: ResourceValidationPolicy = {
  name: 'mosquitto-tls-listeners',
  description:
    'Every Mosquitto listener in a container\'s uploaded mosquitto.conf uses TLS with tls_version set to tlsv1.2 or tlsv1.3; ' +
    'no plain listener, no default listener opened by top-level settings, and no NULL/EXPORT/RC4/3DES/MD5 cipher suites.',
  enforcementLevel: 'mandatory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    const broker = brokerConfigOf(container);
    // A container without the file is judged by mosquitto-config-reviewable, which finds where it comes from.
    if (broker.kind !== 'found') return;
    const { conf } = broker;
    if (conf.listeners.length === 0) reportViolation('mosquitto.conf defines no listener: Mosquitto then opens a plain listener on 1883.');
    for (const listener of conf.listeners) {
      const where = listener.port === 'default' ? `settings before the first listener (${listener.origin})` : `listener ${listener.port} (${listener.origin})`;
      if (listener.port === 'default') {
        reportViolation(`${where} open a default listener; declare every listener explicitly with "listener <port>".`);
      }
      if (!setting(conf, listener, 'certfile') || !setting(conf, listener, 'keyfile')) {
        if (setting(conf, listener, 'psk_hint')) reportViolation(`${where} uses TLS-PSK; certificates are required.`);
        else reportViolation(`${where} has no certfile/keyfile: it accepts plain-text MQTT.`);
      }
      const version = setting(conf, listener, 'tls_version');
      if (version !== 'tlsv1.2' && version !== 'tlsv1.3') {
        reportViolation(`${where} must set tls_version tlsv1.2 or tlsv1.3 explicitly (found ${version ?? 'none'}).`);
      }
      for (const key of ['ciphers', 'ciphers_tls1.3']) {
        const ciphers = setting(conf, listener, key);
        if (ciphers && WEAK_CIPHERS.test(ciphers)) reportViolation(`${where} allows weak suites in ${key}: ${ciphers}`);
      }
      const protocol = setting(conf, listener, 'protocol');
      if (protocol === 'websockets' && !setting(conf, listener, 'certfile')) reportViolation(`${where} serves plain websockets.`);
    }
  }),
};
