import type { ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import { certificateEarlyRenewal, containerHealthcheck, containerReadOnlyRoot, imagePinned, publishedPortsLoopback } from './advisory-hardening.js';
import { containerLeastPrivilege } from './container-least-privilege.js';
import { containerSecrets } from './container-secrets.js';
import { mosquittoAcl } from './mosquitto-acl.js';
import { mosquittoClientAuthentication } from './mosquitto-client-authentication.js';
import { mosquittoConfigReviewable } from './mosquitto-config-reviewable.js';
import { mosquittoRevocationList } from './mosquitto-revocation-list.js';
import { mosquittoTlsListeners } from './mosquitto-tls-listeners.js';
import { tlsCertificateRoles } from './tls-certificate-roles.js';
import { tlsKeyStrength } from './tls-key-strength.js';

/** The pack's policies, mandatory first. Only policies/index.ts turns them into a PolicyPack. */
export const POLICIES: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  mosquittoConfigReviewable,
  mosquittoTlsListeners,
  mosquittoClientAuthentication,
  mosquittoAcl,
  mosquittoRevocationList,
  tlsKeyStrength,
  tlsCertificateRoles,
  containerSecrets,
  containerLeastPrivilege,
  containerReadOnlyRoot,
  containerHealthcheck,
  imagePinned,
  publishedPortsLoopback,
  certificateEarlyRenewal,
];
