// SIGTERM and SIGINT ask a long command to stop cleanly: a job finishes and
// commits the unit in hand, writes nothing more, says how far it got and exits
// 128 + the signal (143, 130), so rerunning it resumes; `shardq quantize`
// removes its temp file. A second signal of the same kind ends the process at
// once (the default action), for a user who will not wait.
#pragma once

namespace shardq {

// Idempotent. Only the flag below is touched in the handler (async-signal-safe).
void InstallStopSignalHandlers();

// 0 while no stop was asked for, else the first signal's number.
int StopSignal();

// For tests and for a coordinator relaying a stop it was sent: as if `signo` arrived.
void RequestStop(int signo);
void ClearStopRequest();

// "SIGTERM", "SIGINT", or "signal N".
const char* StopSignalName(int signo);

}  // namespace shardq
