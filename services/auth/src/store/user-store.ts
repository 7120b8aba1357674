import { Schema, trusted, Types, type Connection } from 'mongoose';
import { ROLES, type Role } from '@ecom/common/auth';
import { pageOffset, type PageQuery } from '@ecom/common/http';
import { isDuplicateKey } from '@ecom/common/mongo';
import type { ProfileAddress, PublicUser } from '../domain/user';
import { collectionModel } from './connection';

interface UserDoc {
  _id: Types.ObjectId;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  /** Raised by whatever ends the user's sessions (absent on older documents: 0). */
  sessionEpoch?: number;
  phone?: string;
  address?: ProfileAddress;
  createdAt: Date;
  updatedAt: Date;
}

/** A user with the hash, for the use cases that need it; never sent to a client. */
export interface StoredUser extends PublicUser {
  passwordHash: string;
  /**
   * Raised, and committed, before anything ends the user's sessions (logout everywhere, a
   * password or role change, a deletion): a session started from an older read of the user is
   * ended at once (docs/adr/0062).
   */
  sessionEpoch: number;
}

export interface ProfileChanges {
  name?: string;
  phone?: string | null;
  address?: ProfileAddress | null;
}

export interface UserPage {
  items: PublicUser[];
  total: number;
}

export class EmailTakenError extends Error {
  constructor() {
    super('email already registered');
  }
}

const addressSchema = new Schema<ProfileAddress>(
  {
    line1: { type: String, required: true },
    line2: String,
    city: { type: String, required: true },
    postalCode: String,
    region: String,
    country: { type: String, required: true },
  },
  { _id: false },
);

const userSchema = new Schema<UserDoc>(
  {
    email: { type: String, required: true, unique: true },
    name: { type: String, required: true },
    role: { type: String, enum: ROLES, required: true, default: 'customer' },
    passwordHash: { type: String, required: true },
    sessionEpoch: { type: Number, default: 0 },
    phone: String,
    address: addressSchema,
  },
  { collection: 'users', timestamps: true, versionKey: false, strict: 'throw' },
);
userSchema.index({ createdAt: 1, _id: 1 });

function toStored(doc: UserDoc): StoredUser {
  return {
    id: doc._id.toHexString(),
    email: doc.email,
    name: doc.name,
    role: doc.role,
    ...(doc.phone ? { phone: doc.phone } : {}),
    ...(doc.address
      ? {
          address: {
            line1: doc.address.line1,
            ...(doc.address.line2 ? { line2: doc.address.line2 } : {}),
            city: doc.address.city,
            ...(doc.address.postalCode ? { postalCode: doc.address.postalCode } : {}),
            ...(doc.address.region ? { region: doc.address.region } : {}),
            country: doc.address.country,
          },
        }
      : {}),
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
    passwordHash: doc.passwordHash,
    sessionEpoch: doc.sessionEpoch ?? 0,
  };
}

/** Strips the hash: the only shape handlers hand to the HTTP layer. */
export function publicUser(user: StoredUser): PublicUser {
  const { passwordHash: _hash, sessionEpoch: _epoch, ...rest } = user;
  return rest;
}

/** Ids come from URLs; a malformed one simply matches nothing. */
function objectId(id: string): Types.ObjectId | undefined {
  return Types.ObjectId.isValid(id) && /^[0-9a-f]{24}$/i.test(id)
    ? new Types.ObjectId(id)
    : undefined;
}

export function createUserStore(connection: Connection) {
  // init(): the unique email index must exist before the first registration is accepted.
  const collection = collectionModel(connection, 'User', userSchema);
  const Users = collection.model;

  return {
    ...collection,

    async create(input: {
      email: string;
      name: string;
      role: Role;
      passwordHash: string;
    }): Promise<StoredUser> {
      try {
        const doc = await Users.create(input);
        return toStored(doc.toObject());
      } catch (err) {
        if (isDuplicateKey(err, 'email')) throw new EmailTakenError();
        throw err;
      }
    },

    async findByEmail(email: string): Promise<StoredUser | null> {
      const doc = await Users.findOne({ email }).lean<UserDoc>();
      return doc ? toStored(doc) : null;
    },

    async findById(id: string): Promise<StoredUser | null> {
      const _id = objectId(id);
      if (!_id) return null;
      const doc = await Users.findById(_id).lean<UserDoc>();
      return doc ? toStored(doc) : null;
    },

    async updateProfile(id: string, changes: ProfileChanges): Promise<StoredUser | null> {
      const _id = objectId(id);
      if (!_id) return null;
      const $set: Record<string, unknown> = {};
      const $unset: Record<string, 1> = {};
      for (const [key, value] of Object.entries(changes)) {
        if (value === undefined) continue;
        if (value === null) $unset[key] = 1;
        else $set[key] = value;
      }
      const doc = await Users.findByIdAndUpdate(
        _id,
        {
          ...(Object.keys($set).length ? { $set } : {}),
          ...(Object.keys($unset).length ? { $unset } : {}),
        },
        { returnDocument: 'after', runValidators: true },
      ).lean<UserDoc>();
      return doc ? toStored(doc) : null;
    },

    /**
     * Replaces the hash only if it is still `expectedHash` (no lost update on races). With
     * `endSessions` the session epoch is raised in the same write. Answers the user as it now is,
     * or null when the hash had changed (or the user is gone).
     */
    async setPasswordHash(
      id: string,
      expectedHash: string,
      newHash: string,
      options: { endSessions: boolean },
    ): Promise<StoredUser | null> {
      const _id = objectId(id);
      if (!_id) return null;
      const doc = await Users.findOneAndUpdate(
        { _id, passwordHash: expectedHash },
        {
          $set: { passwordHash: newHash },
          ...(options.endSessions ? { $inc: { sessionEpoch: 1 } } : {}),
        },
        { returnDocument: 'after' },
      ).lean<UserDoc>();
      return doc ? toStored(doc) : null;
    },

    /** Raises the session epoch (before the sessions are revoked); false when there is no user. */
    async endSessions(id: string): Promise<boolean> {
      const _id = objectId(id);
      if (!_id) return false;
      const result = await Users.updateOne({ _id }, { $inc: { sessionEpoch: 1 } });
      return result.matchedCount === 1;
    },

    /** The session epoch as committed now; null when the user is gone. */
    async sessionEpochOf(id: string): Promise<number | null> {
      const _id = objectId(id);
      if (!_id) return null;
      const doc = await Users.findById(_id, { sessionEpoch: 1 }).lean<
        Pick<UserDoc, 'sessionEpoch'>
      >();
      return doc ? (doc.sessionEpoch ?? 0) : null;
    },

    async setRole(id: string, role: Role): Promise<StoredUser | null> {
      const _id = objectId(id);
      if (!_id) return null;
      // A role change ends the user's sessions: the epoch rises in the same write.
      const doc = await Users.findByIdAndUpdate(
        _id,
        { $set: { role }, $inc: { sessionEpoch: 1 } },
        { returnDocument: 'after', runValidators: true },
      ).lean<UserDoc>();
      return doc ? toStored(doc) : null;
    },

    /** Admins other than `id`: a change that would leave none is refused. */
    async countOtherAdmins(id: string): Promise<number> {
      const _id = objectId(id);
      const admin: Role = 'admin';
      return Users.countDocuments(
        _id ? { role: admin, _id: trusted({ $ne: _id }) } : { role: admin },
      );
    },

    async delete(id: string): Promise<boolean> {
      const _id = objectId(id);
      if (!_id) return false;
      const result = await Users.deleteOne({ _id });
      return result.deletedCount === 1;
    },

    /** Oldest first, so pages stay stable while new users register. */
    async list(options: PageQuery & { role?: Role }): Promise<UserPage> {
      const filter = options.role ? { role: options.role } : {};
      const [docs, total] = await Promise.all([
        Users.find(filter)
          .sort({ createdAt: 1, _id: 1 })
          .skip(pageOffset(options))
          .limit(options.limit)
          .lean<UserDoc[]>(),
        Users.countDocuments(filter),
      ]);
      return { items: docs.map((doc) => publicUser(toStored(doc))), total };
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
