// First: the driver instrumentations must hook the drivers before they load (tracing on).
import '@ecom/common/instrument';
import { runService } from '@ecom/common/service';
import { paymentService } from './service';

void runService(paymentService);
