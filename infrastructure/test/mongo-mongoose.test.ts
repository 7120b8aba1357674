import mongoose, { Schema, Types, type Connection } from 'mongoose';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';

/**
 * The stand-in through mongoose, the way the services use it. Runs against MONGO_URL
 * when set (a real MongoDB), which keeps these tests honest about MongoDB's behaviour.
 */
let mongo: TestMongo;
let conn: Connection;

const userSchema = new Schema(
  {
    email: { type: String, required: true, unique: true, lowercase: true },
    name: String,
    roles: { type: [String], default: ['customer'] },
    loginCount: { type: Number, default: 0 },
  },
  { timestamps: true },
);

const productSchema = new Schema(
  {
    sku: { type: String, required: true, unique: true },
    name: String,
    description: String,
    price: Schema.Types.Decimal128,
    stock: { type: Number, min: 0 },
    category: { type: Schema.Types.ObjectId, ref: 'Category' },
    reservations: [{ orderId: String, qty: Number, status: String }],
    tags: [String],
  },
  { timestamps: true },
);
productSchema.index({ name: 'text', description: 'text' });

const reviewSchema = new Schema({
  productId: Schema.Types.ObjectId,
  userId: Schema.Types.ObjectId,
  rating: Number,
});
reviewSchema.index({ productId: 1, userId: 1 }, { unique: true });

const categorySchema = new Schema({ name: String });

beforeAll(async () => {
  mongo = await createTestMongo('mongoose');
  conn = await mongoose.createConnection(mongo.url).asPromise();
  conn.model('User', userSchema);
  conn.model('Product', productSchema);
  conn.model('Review', reviewSchema);
  conn.model('Category', categorySchema);
  await Promise.all(Object.values(conn.models).map((m) => m.init()));
});

afterAll(async () => {
  await conn?.close();
  await mongo?.cleanup();
});

describe('mongoose models on the stand-in', () => {
  it('creates the unique indexes mongoose declares and applies them', async () => {
    const User = conn.model('User');
    const indexes = await User.listIndexes();
    expect(indexes.find((i) => i.name === 'email_1')).toMatchObject({
      key: { email: 1 },
      unique: true,
    });
    const Review = conn.model('Review');
    expect(
      (await Review.listIndexes()).find((i) => i.name === 'productId_1_userId_1'),
    ).toMatchObject({ unique: true });
  });

  it('CRUD with defaults, timestamps, lean and save', async () => {
    const User = conn.model('User');
    const created = await User.create({ email: 'Ann@Example.com', name: 'Ann' });
    expect(created.email).toBe('ann@example.com');
    const found = await User.findOne({ email: 'ann@example.com' }).lean<{
      roles: string[];
      createdAt: Date;
      _id: Types.ObjectId;
    }>();
    expect(found?.roles).toEqual(['customer']);
    expect(found?.createdAt).toBeInstanceOf(Date);
    expect(found?._id).toBeInstanceOf(Types.ObjectId);
    created.set('name', 'Annie');
    await created.save();
    expect((await User.findById(created._id))?.get('name')).toBe('Annie');
    await User.updateOne(
      { _id: created._id },
      { $inc: { loginCount: 1 }, $addToSet: { roles: 'seller' } },
    );
    const after = await User.findById(created._id).lean<{
      loginCount: number;
      roles: string[];
      updatedAt: Date;
      createdAt: Date;
    }>();
    expect(after?.loginCount).toBe(1);
    expect(after?.roles).toEqual(['customer', 'seller']);
    expect(after!.updatedAt.getTime()).toBeGreaterThanOrEqual(after!.createdAt.getTime());
    await User.deleteOne({ _id: created._id });
    expect(await User.countDocuments()).toBe(0);
  });

  it('raises the usual duplicate key error (code 11000) on a unique field', async () => {
    const User = conn.model('User');
    await User.create({ email: 'dup@example.com' });
    const err = (await User.create({ email: 'DUP@example.com' }).catch((e: unknown) => e)) as {
      code: number;
      name: string;
      keyValue: unknown;
      keyPattern: unknown;
    };
    expect(err.name).toBe('MongoServerError');
    expect(err.code).toBe(11000);
    expect(err.keyValue).toEqual({ email: 'dup@example.com' });
    expect(err.keyPattern).toEqual({ email: 1 });
    expect(await User.countDocuments({ email: 'dup@example.com' })).toBe(1);
  });

  it('enforces a compound unique index (one review per user and product)', async () => {
    const Review = conn.model('Review');
    const [p, u1, u2] = [new Types.ObjectId(), new Types.ObjectId(), new Types.ObjectId()];
    await Review.create({ productId: p, userId: u1, rating: 5 });
    await Review.create({ productId: p, userId: u2, rating: 4 });
    await expect(Review.create({ productId: p, userId: u1, rating: 1 })).rejects.toMatchObject({
      code: 11000,
    });
    expect(await Review.countDocuments({ productId: p })).toBe(2);
  });

  it('50 concurrent conditional findOneAndUpdate on stock 10: exactly 10 succeed, never below zero', async () => {
    const Product = conn.model('Product');
    const product = await Product.create({ sku: 'RACE-1', stock: 10 });
    const attempts = await Promise.all(
      Array.from({ length: 50 }, () =>
        Product.findOneAndUpdate(
          { _id: product._id, stock: { $gte: 1 } },
          { $inc: { stock: -1 } },
          { returnDocument: 'after' },
        ).lean(),
      ),
    );
    expect(attempts.filter((a) => a !== null)).toHaveLength(10);
    expect((await Product.findById(product._id).lean<{ stock: number }>())?.stock).toBe(0);
  });

  it('reserves with $push and releases with arrayFilters and $pull', async () => {
    const Product = conn.model('Product');
    const p = await Product.create({ sku: 'RES-1', stock: 5 });
    await Product.updateOne(
      { _id: p._id, stock: { $gte: 2 } },
      { $inc: { stock: -2 }, $push: { reservations: { orderId: 'o1', qty: 2, status: 'held' } } },
    );
    await Product.updateOne(
      { _id: p._id },
      { $push: { reservations: { orderId: 'o2', qty: 1, status: 'held' } } },
    );
    await Product.updateOne(
      { _id: p._id },
      { $set: { 'reservations.$[r].status': 'released' }, $inc: { stock: 2 } },
      { arrayFilters: [{ 'r.orderId': 'o1' }] },
    );
    type Reserved = { stock: number; reservations: Array<{ orderId: string; status: string }> };
    let doc = await Product.findById(p._id).lean<Reserved>();
    expect(doc?.stock).toBe(5);
    expect(doc?.reservations.map((r) => [r.orderId, r.status])).toEqual([
      ['o1', 'released'],
      ['o2', 'held'],
    ]);
    await Product.updateOne(
      { _id: p._id },
      { $pull: { reservations: { status: 'released' } }, $unset: { tags: 1 } },
    );
    doc = await Product.findById(p._id).lean<Reserved>();
    expect(doc?.reservations.map((r) => r.orderId)).toEqual(['o2']);
  });

  it('upserts with $setOnInsert through mongoose', async () => {
    const User = conn.model('User');
    await User.findOneAndUpdate(
      { email: 'up@example.com' },
      { $setOnInsert: { name: 'First' }, $inc: { loginCount: 1 } },
      { upsert: true },
    );
    await User.findOneAndUpdate(
      { email: 'up@example.com' },
      { $setOnInsert: { name: 'Second' }, $inc: { loginCount: 1 } },
      { upsert: true },
    );
    const doc = await User.findOne({ email: 'up@example.com' }).lean<{
      name: string;
      loginCount: number;
    }>();
    expect(doc).toMatchObject({ name: 'First', loginCount: 2 });
  });

  it('round-trips Decimal128 and ObjectId refs, and populates', async () => {
    const Category = conn.model('Category');
    const Product = conn.model('Product');
    const cat = await Category.create({ name: 'Lamps' });
    await Product.create({ sku: 'DEC-1', price: '19.99', category: cat._id });
    const doc = await Product.findOne({ sku: 'DEC-1' }).populate('category');
    expect(doc?.get('price').toString()).toBe('19.99');
    expect(doc?.get('category').name).toBe('Lamps');
  });

  it('sorts, skips, limits, counts and paginates with a cursor across batches', async () => {
    const Product = conn.model('Product');
    await Product.insertMany(
      Array.from({ length: 250 }, (_, i) => ({
        sku: `BULK-${String(i).padStart(3, '0')}`,
        stock: i % 7,
        tags: ['bulk'],
      })),
    );
    expect(await Product.countDocuments({ tags: 'bulk' })).toBe(250);
    expect(await Product.countDocuments({ tags: 'bulk', stock: { $in: [0, 1] } })).toBe(72);
    const page = await Product.find({ tags: 'bulk' })
      .sort({ sku: -1 })
      .skip(10)
      .limit(3)
      .select('sku -_id')
      .lean();
    expect(page).toEqual([{ sku: 'BULK-239' }, { sku: 'BULK-238' }, { sku: 'BULK-237' }]);
    let n = 0;
    for await (const _doc of Product.find({ tags: 'bulk' }).batchSize(40).cursor()) n++;
    expect(n).toBe(250);
  });

  it('searches with $regex and $text', async () => {
    const Product = conn.model('Product');
    await Product.create([
      { sku: 'S-1', name: 'Walnut Desk', description: 'solid wood' },
      { sku: 'S-2', name: 'Desk lamp', description: 'brass' },
      { sku: 'S-3', name: 'Rug', description: 'wool, fits under a desk' },
    ]);
    const regex = await Product.find({ name: { $regex: 'desk', $options: 'i' } })
      .sort({ sku: 1 })
      .lean<Array<{ sku: string }>>();
    expect(regex.map((p) => p.sku)).toEqual(['S-1', 'S-2']);
    const text = await Product.find({ $text: { $search: 'desk' } })
      .sort({ sku: 1 })
      .lean<Array<{ sku: string }>>();
    expect(text.map((p) => p.sku)).toEqual(['S-1', 'S-2', 'S-3']);
  });

  it('aggregates rating averages with $match/$group', async () => {
    const Review = conn.model('Review');
    const p = new Types.ObjectId();
    await Review.insertMany(
      [3, 4, 5].map((rating) => ({ productId: p, userId: new Types.ObjectId(), rating })),
    );
    const [agg] = await Review.aggregate<{ avg: number; n: number }>([
      { $match: { productId: p } },
      { $group: { _id: '$productId', avg: { $avg: '$rating' }, n: { $sum: 1 } } },
    ]);
    expect(agg).toMatchObject({ avg: 4, n: 3 });
  });
});
