import { describe, expect, it } from 'vitest';
import { mosquittoConfigReviewable } from '../../policies/mosquitto-config-reviewable.js';
import { runPolicies } from '../../policies/harness/run-policies.js';
import { appContainer, brokerContainer, GOOD_CONF, resource } from './policy-args.js';

const stackViolations = async (resources: ReturnType<typeof resource>[]) =>
  (await runPolicies([mosquittoConfigReviewable], resources))[0]!.violations.map((v) => v.message);

const consumer = (volumeName: string) =>
  appContainer({ image: 'sha256:1', command: ['mosquitto', '-c', '/mosquitto/config/mosquitto.conf'], volumes: [{ volumeName, containerPath: '/mosquitto/config', readOnly: true }] });
const loader = (volumeName: string) =>
  appContainer({ start: false, command: ['true'], volumes: [{ volumeName, containerPath: '/mosquitto/config' }], uploads: [{ file: '/mosquitto/config/mosquitto.conf', content: GOOD_CONF }] });

describe('mosquitto-config-reviewable', () => {
  it('passes a configuration uploaded to the broker, or into the volume it mounts by a loader', async () => {
    expect(await stackViolations([brokerContainer()])).toEqual([]);
    expect(await stackViolations([loader('cfg'), consumer('cfg')])).toEqual([]);
  });

  it('refuses a Mosquitto container whose configuration is nowhere in the stack', async () => {
    expect(await stackViolations([appContainer({ image: 'eclipse-mosquitto:2.0.20' })])).toEqual([expect.stringContaining('no uploaded /mosquitto/config/mosquitto.conf')]);
    expect(await stackViolations([loader('other'), consumer('cfg')])).toEqual([expect.stringContaining('no container of the stack uploads it')]);
  });
});
