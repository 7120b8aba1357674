import { deadLettersCommand } from './dead-letters';

deadLettersCommand(process.argv.slice(2), process.env, (line) =>
  process.stdout.write(`${line}\n`),
).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`dead-letters: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
