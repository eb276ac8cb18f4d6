import type * as docker from '@pulumi/docker';

/**
 * Settings every container of the stack gets: nothing it does not need. Read-only root file system
 * (writable state lives on volumes, scratch on a small tmpfs), no Linux capabilities, no privilege
 * gain through setuid binaries, never privileged, restarted unless stopped on purpose.
 */
export const HARDENED_CONTAINER = {
  readOnly: true,
  privileged: false,
  capabilities: { drops: ['ALL'] },
  securityOpts: ['no-new-privileges:true'],
  tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m' },
  restart: 'unless-stopped',
  logDriver: 'json-file',
  logOpts: { 'max-size': '10m', 'max-file': '3' },
} satisfies Partial<docker.ContainerArgs>;
