import { runService } from '@ecom/common';
import { orderConfigSchema } from './config';
import { startOrderService } from './service';

// config → logger → bus → start → graceful shutdown on SIGTERM/SIGINT (common/lifecycle).
void runService({ name: 'order', configSchema: orderConfigSchema, start: startOrderService });
