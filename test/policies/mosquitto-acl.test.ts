import { describe, expect, it } from 'vitest';
import { mosquittoAcl } from '../../policies/mosquitto-acl.js';
import { brokerContainer, GOOD_ACL, GOOD_CONF, violations } from './policy-args.js';

describe('mosquitto-acl', () => {
  it('passes per-device pattern rules and a shared read-only announcement topic', async () => {
    expect(await violations(mosquittoAcl, [brokerContainer()])).toEqual([]);
  });

  it('refuses a missing acl_file, or one that is not uploaded', async () => {
    expect(await violations(mosquittoAcl, [brokerContainer({ conf: GOOD_CONF.replace(/^acl_file .*$/m, '') })])).toEqual([expect.stringContaining('sets no acl_file')]);
    expect(await violations(mosquittoAcl, [brokerContainer({ acl: undefined })])).toEqual([expect.stringContaining('is not uploaded')]);
  });

  it('refuses device rules that reach beyond the device', async () => {
    const cases: [string, RegExp][] = [
      ['pattern write #', /grants write on every topic/],
      ['pattern write devices/+/telemetry', /lets every device write the same topic/],
      ['pattern +/%u/telemetry', /starts with a wildcard/],
      ['topic read devices/#', /device rules must be pattern rules/],
      ['pattern read devices/+/telemetry', /may only grant read on one exact topic/],
    ];
    for (const [rule, expected] of cases) {
      const found = await violations(mosquittoAcl, [brokerContainer({ acl: `${rule}\n${GOOD_ACL}` })]);
      expect(found.join('\n'), rule).toMatch(expected);
    }
  });

  it('refuses write on # for a named user too', async () => {
    expect(await violations(mosquittoAcl, [brokerContainer({ acl: `${GOOD_ACL}\nuser ops.svc\ntopic readwrite #\n` })])).toEqual([
      expect.stringContaining('grants write on every topic'),
    ]);
  });
});
