import { createHash } from 'node:crypto';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

export interface ConfigFile {
  /** Path inside the consuming container; must lie under `mountPath`. */
  file: string;
  content: pulumi.Input<string>;
  owner: string;
  secret?: boolean;
}

export interface ConfigVolumeArgs {
  /** Docker name of the volume, and of the loader container (with `-loader`). */
  name: string;
  /** An image that exists anyway (the smallest the stack has): the loader is created, never started. */
  image: pulumi.Input<string>;
  mountPath: string;
  files: ConfigFile[];
}

/**
 * Files for a container with a read-only root file system. Docker refuses uploads into such a
 * container ("container rootfs is marked read-only"), so a loader container, created but never
 * started and without a network, receives the uploads into a named volume that the consumer mounts
 * read-only. `contentHash` changes with any file, so the consumer is replaced and sees new files.
 */
export class ConfigVolume extends pulumi.ComponentResource {
  readonly volume: docker.Volume;
  readonly loader: docker.Container;
  readonly contentHash: pulumi.Output<string>;
  private readonly mountPath: string;

  constructor(name: string, args: ConfigVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('secure-mqtt-stack:config:ConfigVolume', name, {}, opts);
    for (const f of args.files) {
      if (!f.file.startsWith(`${args.mountPath}/`)) throw new Error(`${f.file} is outside the config volume at ${args.mountPath}`);
    }
    this.mountPath = args.mountPath;
    this.volume = new docker.Volume(`${name}-volume`, { name: args.name }, { parent: this });
    this.loader = new docker.Container(
      `${name}-loader`,
      {
        name: `${args.name}-loader`,
        image: args.image,
        start: false,
        command: ['true'],
        networkMode: 'none',
        volumes: [{ volumeName: this.volume.name, containerPath: args.mountPath }],
        uploads: args.files.map((f) => ({ file: f.file, content: f.content, owner: f.owner, group: f.owner, permissions: f.secret ? '0400' : '0444' })),
        capabilities: { drops: ['ALL'] },
        securityOpts: ['no-new-privileges:true'],
        restart: 'no',
      },
      { parent: this },
    );
    // A digest of names, modes and contents: no secret leaves in it, and any change replaces the consumer.
    this.contentHash = pulumi
      .all(args.files.map((f) => pulumi.output(f.content)))
      .apply((contents) => {
        const hash = createHash('sha256');
        args.files.forEach((f, i) => hash.update(`${f.file}\0${f.owner}\0${f.secret ? 1 : 0}\0${contents[i]}\0`));
        return hash.digest('hex');
      });
    this.registerOutputs({ volume: this.volume.name });
  }

  /** The consumer's view: the volume mounted read-only, and the label that ties it to the content. */
  mount(): { volume: docker.types.input.ContainerVolume; label: docker.types.input.ContainerLabel } {
    return {
      volume: { volumeName: this.volume.name, containerPath: this.mountPath, readOnly: true },
      label: { label: 'secure-mqtt-stack/config-sha256', value: pulumi.unsecret(this.contentHash) },
    };
  }
}
