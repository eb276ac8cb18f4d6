import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';

export interface ProjectImageArgs {
  /** Repository root: the build context. */
  buildContext: string;
  /** Dockerfile path relative to the repository root. */
  dockerfile: string;
  imageName: string;
  baseImage: string;
}

/** An image built from this repository with BuildKit, the base image passed as BASE_IMAGE; never pushed. */
export function projectImage(name: string, args: ProjectImageArgs, parent: pulumi.Resource): docker.Image {
  return new docker.Image(
    name,
    {
      imageName: args.imageName,
      build: {
        context: args.buildContext,
        dockerfile: `${args.buildContext}/${args.dockerfile}`,
        args: { BASE_IMAGE: args.baseImage },
        builderVersion: 'BuilderBuildKit',
      },
      skipPush: true,
    },
    { parent },
  );
}

/** What every container built from this repository needs to join the stack as an MQTT client. */
export interface BrokerClientArgs {
  namePrefix: string;
  /** Repository root: the Docker build context. */
  buildContext: string;
  baseImage: string;
  networkName: pulumi.Input<string>;
  brokerHost: string;
  brokerPort: number;
  serviceIdentity: string;
  caCertPem: pulumi.Input<string>;
  /**
   * Image for the never-started config-volume loaders: the smallest one the stack has anyway (the
   * broker's). Storage drivers that copy whole layers (vfs) copy a container's image per container.
   */
  configLoaderImage: pulumi.Input<string>;
}
