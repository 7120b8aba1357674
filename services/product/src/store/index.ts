import type { Connection } from 'mongoose';
import { pingMongo } from '@ecom/common/mongo';
import { MongoCatalogStore } from './catalog-store';
import { MongoCategoryStore } from './category-store';
import { createModels, type ProductModels } from './models';
import { MongoRatingStore } from './rating-store';
import { MongoReservationStore } from './reservation-store';
import { MongoStockStore } from './stock-store';

export interface ProductStores {
  models: ProductModels;
  catalog: MongoCatalogStore;
  categories: MongoCategoryStore;
  stock: MongoStockStore;
  reservations: MongoReservationStore;
  ratings: MongoRatingStore;
  /** Throws when MongoDB does not answer (readiness). */
  ping(): Promise<void>;
}

/** Builds the stores on an open connection and makes sure every index exists. */
export async function createStores(
  connection: Connection,
  searchMode: 'text' | 'regex',
): Promise<ProductStores> {
  const models = createModels(connection);
  // Indexes (unique orderId / slug / commentId among them) must exist before any write.
  await Promise.all(Object.values(models).map((model) => model.init()));
  return {
    models,
    catalog: new MongoCatalogStore(models, searchMode),
    categories: new MongoCategoryStore(models),
    stock: new MongoStockStore(models),
    reservations: new MongoReservationStore(models),
    ratings: new MongoRatingStore(models),
    ping: () => pingMongo(connection),
  };
}
