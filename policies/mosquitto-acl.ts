import * as docker from '@pulumi/docker';
import { validateResourceOfType, type ResourceValidationPolicy } from '@pulumi/policy';
import { setting } from '../broker-config/mosquitto-conf-parser.js';
import { brokerConfigOf, uploadText } from './resource-facts.js';

interface AclRule {
  kind: 'topic' | 'pattern';
  access: 'read' | 'write' | 'readwrite' | 'deny';
  topic: string;
  /** undefined: before any `user` line. */
  user: string | undefined;
  line: number;
}

function parseAcl(text: string): AclRule[] {
  const rules: AclRule[] = [];
  let user: string | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'user') user = rest.join(' ');
    if (key !== 'topic' && key !== 'pattern') return;
    const [first = '', ...others] = rest;
    const hasAccess = ['read', 'write', 'readwrite', 'deny'].includes(first);
    rules.push({
      kind: key,
      access: hasAccess ? (first as AclRule['access']) : 'readwrite',
      topic: hasAccess ? others.join(' ') : rest.join(' '),
      user,
      line: index + 1,
    });
  });
  return rules;
}

const grantsWrite = (rule: AclRule) => rule.access === 'write' || rule.access === 'readwrite';
const wildcard = (topic: string) => topic.includes('+') || topic.includes('#');

/**
 * Mandatory: the broker has an ACL and it is reviewable; rules every device gets (`pattern`, or `topic`
 * before any `user`) confine a device to topics named by its own identity.
 */
export const mosquittoAcl: ResourceValidationPolicy = {
  name: 'mosquitto-acl',
  description:
    'Mosquitto has an acl_file whose content is uploaded with the container. Rules that apply to every device are `pattern` ' +
    'rules: a write rule must name the device through %u and must not be `#` or start with a wildcard; a rule without %u may ' +
    'only grant read on one exact topic (a shared announcement). No rule anywhere grants write on `#`.',
  enforcementLevel: 'mandatory',
  validateResource: validateResourceOfType(docker.Container, (container, _args, reportViolation) => {
    const broker = brokerConfigOf(container);
    if (broker.kind !== 'found') return;
    const aclFiles = new Set([broker.conf.listeners.map((l) => setting(broker.conf, l, 'acl_file')), setting(broker.conf, undefined, 'acl_file')].flat());
    aclFiles.delete(undefined);
    if (aclFiles.size === 0) {
      reportViolation('mosquitto.conf sets no acl_file: every authenticated client may publish and subscribe anywhere.');
      return;
    }
    for (const path of aclFiles) {
      const upload = broker.uploads.find((u) => u.file === path);
      if (!upload) {
        reportViolation(`acl_file ${path} is not uploaded with the container, so its rules cannot be reviewed.`);
        continue;
      }
      for (const rule of parseAcl(uploadText(upload))) {
        const where = `${path}:${rule.line} "${rule.kind} ${rule.access} ${rule.topic}"`;
        if (grantsWrite(rule) && (rule.topic === '#' || rule.topic.startsWith('#'))) reportViolation(`${where} grants write on every topic.`);
        if (rule.kind === 'topic' && rule.user === undefined) {
          reportViolation(`${where} applies to clients without a user; device rules must be pattern rules with %u.`);
        }
        if (rule.kind !== 'pattern') continue;
        if (grantsWrite(rule)) {
          if (!rule.topic.includes('%u')) reportViolation(`${where} lets every device write the same topic; use %u.`);
          if (/^[+#]/.test(rule.topic)) reportViolation(`${where} starts with a wildcard.`);
        } else if (!rule.topic.includes('%u') && (rule.access !== 'read' || wildcard(rule.topic))) {
          reportViolation(`${where} without %u may only grant read on one exact topic.`);
        }
      }
    }
  }),
};
