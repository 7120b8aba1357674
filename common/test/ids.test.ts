import Joi from 'joi';
import { canonicalId, idTokenSchema, objectIdSchema, uuidSchema } from '@ecom/common/ids';

// One spelling per id: whatever case a client sends, what the code compares and stores is the
// lower-case form, so two spellings can never pass as two ids.

describe('canonical ids', () => {
  it('keeps ObjectIds in lower case and refuses what is not one', () => {
    expect(objectIdSchema.validate('665F1C2B9A1E4D3C2B1A0F9E').value).toBe(
      '665f1c2b9a1e4d3c2b1a0f9e',
    );
    expect(objectIdSchema.validate('665f1c2b9a1e4d3c2b1a0f9').error).toBeDefined();
    expect(objectIdSchema.validate('665f1c2b9a1e4d3c2b1a0f9g').error).toBeDefined();
  });

  it('keeps UUIDs in lower case', () => {
    expect(uuidSchema.validate('0B5E2C9A-4F1D-4C3B-9E2A-1D0F6A7B8C9D').value).toBe(
      '0b5e2c9a-4f1d-4c3b-9e2a-1d0f6a7b8c9d',
    );
    expect(uuidSchema.validate('not-a-uuid').error).toBeDefined();
    // Other spellings joi would take: PostgreSQL refuses some (a 500) and reads others as the
    // same uuid, which a lookup by text then misses. Only the hyphenated form is an id here.
    for (const other of [
      '{0b5e2c9a-4f1d-4c3b-9e2a-1d0f6a7b8c9d}',
      '[0b5e2c9a-4f1d-4c3b-9e2a-1d0f6a7b8c9d]',
      '(0b5e2c9a-4f1d-4c3b-9e2a-1d0f6a7b8c9d)',
      '0b5e2c9a4f1d4c3b9e2a1d0f6a7b8c9d',
      '0b5e2c9a:4f1d:4c3b:9e2a:1d0f6a7b8c9d',
    ])
      expect([other, uuidSchema.validate(other).error?.details[0]?.type]).toEqual([
        other,
        'string.guid',
      ]);
  });

  it('keeps id tokens in lower case, bounded and plain', () => {
    expect(idTokenSchema(64).validate('P-Widget_1').value).toBe('p-widget_1');
    expect(idTokenSchema(8).validate('a'.repeat(9)).error).toBeDefined();
    expect(idTokenSchema(64).validate('a b').error).toBeDefined();
    expect(idTokenSchema(64).validate('').error).toBeDefined();
  });

  it('makes an array of ids unique by their canonical form', () => {
    const { error } = Joi.array().items(idTokenSchema(64)).unique().validate(['abc', 'ABC']);
    expect(error?.message).toMatch(/duplicate/);
    expect(canonicalId('AbC')).toBe('abc');
  });
});
