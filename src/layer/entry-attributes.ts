/**
 * The attributes of a filesystem entry that a tar header carries, whatever describes the entry:
 * the walk of a rootfs, a tar header, an archive entry, the Dockerfile builder's tree.
 */
export interface EntryAttributes {
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes (regular files only; 0 for everything else). */
  size: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  devmajor?: number;
  devminor?: number;
}
