import { pack } from 'tar-stream';

export interface DeclaredUpload {
  file: string;
  content?: string;
  contentBase64?: string;
  owner?: string;
  group?: string;
  permissions?: string;
  executable?: boolean;
}

/**
 * A tar archive of a container's uploads, rooted at `/`, carrying the declared owner, group and mode,
 * as the docker provider builds it before it starts the container. Parent directories are created
 * 0755 root so the files' owner can reach them.
 */
export async function uploadArchive(uploads: DeclaredUpload[]): Promise<Buffer> {
  const archive = pack();
  const directories = new Set<string>();
  for (const upload of uploads) {
    const parts = upload.file.replace(/^\//, '').split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (directories.has(dir)) continue;
      directories.add(dir);
      archive.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    }
    const body = upload.content !== undefined ? Buffer.from(upload.content, 'utf8') : Buffer.from(upload.contentBase64 ?? '', 'base64');
    const mode = upload.permissions ? parseInt(upload.permissions, 8) : upload.executable ? 0o755 : 0o644;
    archive.entry({ name: parts.join('/'), mode, uid: Number(upload.owner ?? 0), gid: Number(upload.group ?? upload.owner ?? 0) }, body);
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
