import { PolicyPack } from '@pulumi/policy';
import { POLICIES } from './all-policies.js';

// The pack's entry point, loaded by `pulumi preview --policy-pack policies`. Constructing a PolicyPack
// starts the policy server, so nothing else (tests, the report) imports this file.
new PolicyPack('secure-mqtt-stack-baseline', { policies: POLICIES });
