import type { AnyObject, Model } from 'mongoose';

/**
 * The model's own collection object, typed by its documents: commands go to the driver (no
 * mongoose casting or documents) and still wait while the connection is down, as the model's
 * queries do. For the checkout's hot commands (docs/adr/0032-product-saga-commands-without-marker-or-mongoose.md).
 */
export function driverCollection<T extends AnyObject>(model: Model<T>) {
  return model.db.collection<T>(model.collection.name);
}
