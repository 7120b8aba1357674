import { runService } from '@ecom/common/service';
import { commentsService } from './service';

void runService(commentsService);
