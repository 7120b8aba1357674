import { runService } from '@ecom/common';
import { paymentConfigSchema } from './config';
import { startPaymentService } from './service';

// config → logger → bus → start → graceful shutdown on SIGTERM/SIGINT (common/lifecycle).
void runService({ name: 'payment', configSchema: paymentConfigSchema, start: startPaymentService });
