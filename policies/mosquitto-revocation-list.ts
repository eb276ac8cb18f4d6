import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import { setting } from '../broker-config/mosquitto-conf-parser.js';
import { readRevocationList, RevocationListError } from '../revocation/revocation-list.js';
import { brokerConfigOf, uploadText } from './resource-facts.js';

const HOUR_MS = 3_600_000;

/**
 * Mandatory: a revoked device certificate must be refused by the broker itself. Every listener that
 * asks for client certificates names a CRL (crlfile) that is uploaded with it, signed by the CA in
 * its cafile, and current: Mosquitto refuses every client once the CRL's nextUpdate has passed.
 */
export const mosquittoRevocationList: ResourceValidationPolicy = {
  name: 'mosquitto-revocation-list',
  description:
    'Every Mosquitto listener that requires client certificates sets crlfile to an uploaded CRL, signed by the CA in its cafile, ' +
    'whose nextUpdate is at least minimumRemainingHours away (an expired CRL makes Mosquitto refuse every client).',
  enforcementLevel: 'mandatory',
  configSchema: { properties: { minimumRemainingHours: { type: 'integer', minimum: 0, default: 24 } } },
  validateResource: validateResourceOfType(docker.Container, async (container, args, reportViolation) => {
    const broker = brokerConfigOf(container);
    if (broker.kind !== 'found') return;
    const { minimumRemainingHours = 24 } = args.getConfig<{ minimumRemainingHours?: number }>();
    const byPath = new Map(broker.uploads.map((u) => [u.file, u]));
    for (const listener of broker.conf.listeners) {
      if (setting(broker.conf, listener, 'require_certificate') !== 'true') continue;
      const where = `listener ${listener.port} (${listener.origin})`;
      const crlFile = setting(broker.conf, listener, 'crlfile');
      if (!crlFile) {
        reportViolation(`${where} requires client certificates but sets no crlfile: a revoked device certificate would still connect.`);
        continue;
      }
      const crl = byPath.get(crlFile);
      if (!crl) {
        reportViolation(`${where} names crlfile ${crlFile}, which is not uploaded with the configuration.`);
        continue;
      }
      const crlPem = uploadText(crl);
      const caUpload = byPath.get(setting(broker.conf, listener, 'cafile') ?? '');
      // Before the first deployment the CA (and so the CRL) may be unknown: nothing to judge yet.
      if (!crlPem || !caUpload || !uploadText(caUpload)) continue;
      const atLeastUntil = new Date(Date.now() + minimumRemainingHours * HOUR_MS);
      try {
        await readRevocationList(crlPem, uploadText(caUpload), new Date(), atLeastUntil);
      } catch (error) {
        if (!(error instanceof RevocationListError)) throw error;
        const advice =
          error.code === 'expired'
            ? ` It must stay valid for ${minimumRemainingHours} h more; run \`pulumi up\` to reissue it.`
            : ' Reissue it from the stack CA.';
        reportViolation(`${where}: CRL ${crlFile} is unusable (${error.code}): ${error.message}.${advice}`);
      }
    }
  }),
};
