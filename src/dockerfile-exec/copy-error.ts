/** A COPY/ADD problem: the builder prefixes the instruction's position. */
export class CopyError extends Error {}
