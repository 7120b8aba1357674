import { runService } from '@ecom/common/service';
import { paymentService } from './service';

void runService(paymentService);
