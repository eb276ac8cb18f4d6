import type { EnforcementLevel, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from '@pulumi/policy';
import { createRequire } from 'node:module';

// The server's own proxy: exported by the package, though its typings mark it internal.
const { unknownCheckingProxy, UnknownValueError } = createRequire(import.meta.url)('@pulumi/policy/proxy.js') as {
  unknownCheckingProxy<T>(value: T): T;
  UnknownValueError: new (...args: never[]) => Error;
};

/**
 * Runs policies over declared resources the way the policy server (`@pulumi/policy/server.js`) does,
 * without the Pulumi engine: inputs behind the unknown-checking proxy, `getConfig` per policy,
 * `notApplicable` that throws, empty stack tags, type checks by Pulumi type token.
 */
export interface ResourceUnderTest {
  type: string;
  name: string;
  urn: string;
  /** Resource inputs with secrets unwrapped, as the server deserialises them. */
  inputs: Record<string, unknown>;
}

export interface Violation {
  message: string;
  resource?: { type: string; name: string; urn: string };
}

export interface PolicyOutcome {
  policy: string;
  enforcementLevel: EnforcementLevel;
  violations: Violation[];
  /** Checks that could not run because an input was unknown (as during a first preview). */
  unknown: string[];
  notApplicable: string[];
}

class NotApplicableError extends Error {
  constructor(readonly reason?: string) {
    super(reason ?? 'Policy does not apply');
  }
}
const throwNotApplicable = (reason?: string): never => {
  throw new NotApplicableError(reason);
};

/** A type token check that works for SDK-generated resource classes (their static `__pulumiType`). */
function isTypeOf(type: string, resourceClass: unknown): boolean {
  const token = (resourceClass as { __pulumiType?: string }).__pulumiType;
  if (token) return token === type;
  const isInstance = (resourceClass as { isInstance?: (o: unknown) => boolean }).isInstance;
  return typeof isInstance === 'function' && isInstance({ __pulumiType: type }) === true;
}

/** Options as the server reports them for a resource declared without any. */
const DEFAULT_OPTIONS = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

/** What resource and stack validation both see of a resource: inputs behind the unknown-checking proxy. */
function policyView(resource: ResourceUnderTest) {
  const props = unknownCheckingProxy(structuredClone(resource.inputs));
  return {
    type: resource.type,
    props,
    urn: resource.urn,
    name: resource.name,
    opts: DEFAULT_OPTIONS,
    isType: (resourceClass: unknown) => isTypeOf(resource.type, resourceClass),
    asType: (resourceClass: unknown) => (isTypeOf(resource.type, resourceClass) ? props : undefined),
  };
}

export function resourceArgs(resource: ResourceUnderTest, config: Record<string, unknown> = {}): ResourceValidationArgs {
  return {
    ...policyView(resource),
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable: throwNotApplicable,
  } as unknown as ResourceValidationArgs;
}

export function stackArgs(resources: ResourceUnderTest[], config: Record<string, unknown> = {}): StackValidationArgs {
  const policyResources = resources.map((r) => ({ ...policyView(r), dependencies: [], propertyDependencies: {} }) as unknown as PolicyResource);
  return { resources: policyResources, getConfig: <T extends object>() => config as T, stackTags: new Map(), notApplicable: throwNotApplicable } as unknown as StackValidationArgs;
}

/** Runs each policy over every resource; config maps policy name → its config object. */
export async function runPolicies(
  policies: (ResourceValidationPolicy | StackValidationPolicy)[],
  resources: ResourceUnderTest[],
  config: Record<string, Record<string, unknown>> = {},
): Promise<PolicyOutcome[]> {
  const outcomes: PolicyOutcome[] = [];
  for (const policy of policies) {
    const outcome: PolicyOutcome = { policy: policy.name, enforcementLevel: policy.enforcementLevel ?? 'advisory', violations: [], unknown: [], notApplicable: [] };
    const policyConfig = { ...defaults(policy), ...config[policy.name] };
    const guard = async (run: () => unknown, resource?: ResourceUnderTest) => {
      try {
        await run();
      } catch (error) {
        if (error instanceof UnknownValueError) outcome.unknown.push(`${resource?.name ?? 'stack'}: ${error.message}`);
        else if (error instanceof NotApplicableError) outcome.notApplicable.push(error.reason ?? 'not applicable');
        else throw error;
      }
    };
    if ('validateResource' in policy && policy.validateResource) {
      const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
      for (const resource of resources) {
        const report: ReportViolation = (message, urn) =>
          outcome.violations.push({ message, resource: { type: resource.type, name: resource.name, urn: urn ?? resource.urn } });
        for (const validate of validations) await guard(() => validate(resourceArgs(resource, policyConfig), report), resource);
      }
    }
    if ('validateStack' in policy && policy.validateStack) {
      const report: ReportViolation = (message, urn) => {
        const resource = resources.find((r) => r.urn === urn);
        outcome.violations.push({ message, ...(resource ? { resource: { type: resource.type, name: resource.name, urn: resource.urn } } : {}) });
      };
      const validateStack = policy.validateStack;
      await guard(() => validateStack(stackArgs(resources, policyConfig), report));
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/** configSchema defaults, which the engine applies before the pack sees its config. */
function defaults(policy: { configSchema?: { properties?: Record<string, { default?: unknown }> } }): Record<string, unknown> {
  return Object.fromEntries(Object.entries(policy.configSchema?.properties ?? {}).flatMap(([key, schema]) => (schema.default === undefined ? [] : [[key, schema.default]])));
}
