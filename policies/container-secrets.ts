import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import { PRIVATE_KEY_PEM } from './resource-facts.js';

/** Names that announce a secret value; `*_FILE` variables carry paths and are fine. */
const SECRET_NAME = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS?)$/i;
const PASSWORD_ARG = /--?(password|passwd|passphrase|secret|token)[= ]\S+/i;

/** Mandatory: secrets reach containers as files, never through places `docker inspect` shows. */
export const containerSecrets: ResourceValidationPolicy = {
  name: 'container-no-secrets-in-config',
  description:
    'No PEM private key and no password-like value in a container\'s environment, labels, command or entrypoint; those are ' +
    'visible to anyone who can inspect the container. Pass secrets as uploaded files (mode 0400) and give their paths.',
  enforcementLevel: 'mandatory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    for (const env of container.envs ?? []) {
      const [name = '', value = ''] = env.split(/=(.*)/s);
      if (PRIVATE_KEY_PEM.test(value)) reportViolation(`Environment variable ${name} holds a private key.`);
      else if (SECRET_NAME.test(name) && value !== '') reportViolation(`Environment variable ${name} holds a secret value; pass a file path instead.`);
    }
    for (const label of container.labels ?? []) {
      if (PRIVATE_KEY_PEM.test(label.value) || SECRET_NAME.test(label.label)) reportViolation(`Label ${label.label} holds secret material.`);
    }
    for (const [field, args] of [['command', container.command ?? []], ['entrypoint', container.entrypoints ?? []]] as const) {
      const text = args.join(' ');
      if (PRIVATE_KEY_PEM.test(text)) reportViolation(`The ${field} holds a private key.`);
      if (PASSWORD_ARG.test(text)) reportViolation(`The ${field} passes a password-like argument.`);
    }
  }),
};
