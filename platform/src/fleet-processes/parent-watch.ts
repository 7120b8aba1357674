/**
 * Preloaded (`--import`) into every process the fleet launcher spawns: when the launcher's IPC
 * channel closes (the launcher exited, even by kill -9), the process stops itself as on
 * SIGTERM, so no service outlives its launcher. The channel is unref'd: it never keeps the
 * process alive by itself.
 */
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
export {};
