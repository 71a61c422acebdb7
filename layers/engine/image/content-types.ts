/**
 * Content type by file extension, for files read from disk (CLI, the local stack's inbox). Only a
 * label for the record's source: intake still decides the format from the bytes.
 */
const CONTENT_TYPE_BY_EXTENSION: Readonly<Record<string, string>> = Object.freeze({
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  avif: 'image/avif',
  svg: 'image/svg+xml',
});

/** The content type a file name's extension suggests (case-insensitive), or undefined. */
export function contentTypeForFileName(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return undefined;
  return CONTENT_TYPE_BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
}
