import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';

const DOCKER_SOCKET = /docker\.sock$/;

/** Mandatory: a container cannot reach the host beyond what it was given. */
export const containerLeastPrivilege: ResourceValidationPolicy = {
  name: 'container-least-privilege',
  description:
    'Containers are not privileged, do not share the host network, do not mount the Docker socket, and drop all Linux ' +
    'capabilities (capabilities.drops includes ALL; add back only what is needed).',
  enforcementLevel: 'mandatory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    if (container.privileged) reportViolation('Container is privileged.');
    if (container.networkMode === 'host') reportViolation('Container shares the host network.');
    const mounts = [...(container.volumes ?? []).map((v) => v.hostPath ?? ''), ...(container.mounts ?? []).map((m) => m.source ?? '')];
    if (mounts.some((path) => DOCKER_SOCKET.test(path))) reportViolation('Container mounts the Docker socket (root on the host).');
    if (!(container.capabilities?.drops ?? []).map((c) => c.toUpperCase()).includes('ALL')) {
      reportViolation('Container keeps the default Linux capabilities; drop ALL.');
    }
  }),
};
