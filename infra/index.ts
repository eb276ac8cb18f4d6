import * as pulumi from '@pulumi/pulumi';
import { declareStack } from './stack.js';
import { readStackConfig } from './stack-config.js';

/** The Pulumi program: typed, validated configuration in; the stack's public outputs out. */
const stack = declareStack(
  pulumi.getStack(),
  readStackConfig((section) => new pulumi.Config().getObject(section)),
);

export const brokerEndpoint = stack.brokerEndpoint;
export const apiUrl = stack.apiUrl;
export const caCertPem = stack.caCertPem;
export const deviceIds = stack.deviceIds;
export const tlsMinimumVersion = stack.tlsMinimumVersion;
