import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import * as tls from '@pulumi/tls';

/** Advisory: state lives on volumes; the image cannot be changed at run time. */
export const containerReadOnlyRoot: ResourceValidationPolicy = {
  name: 'container-read-only-root',
  description: 'Containers run with a read-only root file system (readOnly: true); writable state goes to volumes or tmpfs.',
  enforcementLevel: 'advisory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    // A loader that is created but never started runs nothing.
    if (!container.readOnly && container.start !== false) reportViolation('Root file system is writable.');
  }),
};

/** Advisory: Docker knows when a container is up but not working. */
export const containerHealthcheck: ResourceValidationPolicy = {
  name: 'container-healthcheck',
  description: 'Containers declare a healthcheck, so a running but broken service is reported and can be restarted.',
  enforcementLevel: 'advisory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    const tests = container.healthcheck?.tests ?? [];
    if (container.start !== false && (tests.length === 0 || tests[0] === 'NONE')) reportViolation('No healthcheck.');
  }),
};

const PINNED = /(:(?!latest$)[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/;

/** Advisory: what is deployed is what was reviewed. */
export const imagePinned: ResourceValidationPolicy = {
  name: 'image-pinned',
  description: 'Pulled images are pinned to a version tag or a digest, never `latest` or no tag.',
  enforcementLevel: 'advisory',
  validateResource: validateResourceOfType(docker.RemoteImage, (image, _args, reportViolation) => {
    const lastPart = image.name.split('/').pop() ?? image.name;
    if (!PINNED.test(lastPart)) reportViolation(`Image ${image.name} is not pinned.`);
  }),
};

/** Advisory: development stacks are reachable from this machine only. */
export const publishedPortsLoopback: ResourceValidationPolicy = {
  name: 'published-ports-loopback',
  description:
    'Published ports bind to 127.0.0.1 (or to an address in allowedBindAddresses). Meant for dev stacks: a stack that serves ' +
    'other hosts lists its address in the policy config.',
  enforcementLevel: 'advisory',
  configSchema: { properties: { allowedBindAddresses: { type: 'array', items: { type: 'string' }, default: [] } } },
  validateResource: validateResourceOfType(docker.Container, (container, args, reportViolation) => {
    const { allowedBindAddresses = [] } = args.getConfig<{ allowedBindAddresses?: string[] }>();
    for (const port of container.ports ?? []) {
      const ip = port.ip ?? '0.0.0.0';
      if (ip !== '127.0.0.1' && !allowedBindAddresses.includes(ip)) reportViolation(`Port ${port.external ?? port.internal} is published on ${ip}.`);
    }
  }),
};

/** Advisory: certificates are replaced before they expire, not after. */
export const certificateEarlyRenewal: ResourceValidationPolicy = {
  name: 'certificate-early-renewal',
  description: 'Certificates set earlyRenewalHours, so `pulumi up` replaces them before they expire.',
  enforcementLevel: 'advisory',
  validateResource: [
    validateResourceOfType(tls.SelfSignedCert, (cert, _args, reportViolation) => {
      if (!cert.earlyRenewalHours) reportViolation('earlyRenewalHours is not set.');
    }),
    validateResourceOfType(tls.LocallySignedCert, (cert, _args, reportViolation) => {
      if (!cert.earlyRenewalHours) reportViolation('earlyRenewalHours is not set.');
    }),
  ],
};
