/**
 * A collection's indexes as `field:order` lists (`status:1,createdAt:-1,_id:-1`), for tests
 * that name the index a listing's filter and sort need, directions included.
 */
export function indexKeyPatterns(indexes: { key: Record<string, unknown> }[]): string[] {
  return indexes.map((i) =>
    Object.entries(i.key)
      .map(([field, order]) => `${field}:${String(order)}`)
      .join(','),
  );
}
