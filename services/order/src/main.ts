import { runService } from '@ecom/common/service';
import { orderService } from './service';

void runService(orderService);
