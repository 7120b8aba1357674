import { runService } from '@ecom/common/service';
import { notificationService } from './service';

void runService(notificationService);
