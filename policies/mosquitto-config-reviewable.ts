import * as docker from '@pulumi/docker';
import { validateStackResourcesOfType, type StackValidationPolicy } from '@pulumi/policy';
import { brokerConfigOf, uploadsOf, volumeHolding } from './resource-facts.js';

/**
 * Mandatory: the configuration every Mosquitto container runs with is part of the stack, so the
 * other broker policies can judge it. It is uploaded to the container itself, or, for a read-only
 * container, uploaded into the volume it mounts by another container of the stack.
 */
export const mosquittoConfigReviewable: StackValidationPolicy = {
  name: 'mosquitto-config-reviewable',
  description:
    'Every Mosquitto container\'s mosquitto.conf is declared in the stack: uploaded to the container, or uploaded into the ' +
    'volume it mounts over its configuration directory by another container of the stack (a loader). Otherwise the image ' +
    'default applies, a plain listener on 1883, and nothing can be reviewed.',
  enforcementLevel: 'mandatory',
  validateStack: validateStackResourcesOfType(docker.Container, (containers, _args, reportViolation) => {
    for (const container of containers) {
      const broker = brokerConfigOf(container);
      if (broker.kind === 'missing') reportViolation(`A Mosquitto container has no uploaded ${broker.path} and no volume over it.`);
      if (broker.kind !== 'volume') continue;
      const loaded = containers.some(
        (other) => other !== container && volumeHolding(other, broker.path) === broker.volumeName && uploadsOf(other).some((u) => u.file === broker.path),
      );
      if (!loaded) reportViolation(`${broker.path} comes from volume ${broker.volumeName}, but no container of the stack uploads it there.`);
    }
  }),
};
