// Loaded with NODE_OPTIONS=--require (where --cpu-prof is not allowed): the inspector's CPU
// profiler in this process, started by SIGUSR2 (so start-up is left out) and written to
// CPU_PROFILE_DIR/<pid>.cpuprofile on the next SIGUSR2 or as the process exits. Benchmarks only.
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  let state = 'idle';
  // An in-thread session answers synchronously, so the profile is written before we go on.
  const write = () => {
    if (state !== 'running') return;
    state = 'written';
    session.post('Profiler.stop', (err, result) => {
      if (!err)
        fs.writeFileSync(
          path.join(dir, `${process.pid}.cpuprofile`),
          JSON.stringify(result.profile),
        );
    });
  };
  process.on('SIGUSR2', () => {
    if (state === 'idle') {
      state = 'running';
      session.post('Profiler.start');
    } else write();
  });
  process.on('exit', write);
}
