/**
 * A description written next to its file on disk, `<file>.description.json`: the CLI's sidecars in
 * folders and the local stack's inbox mirror, so a mirrored folder looks like one the CLI described.
 */
export const FILE_SIDECAR_SUFFIX = '.description.json';
