package main

// The Windows service's answers to the service manager, kept apart from
// the Windows-only handler (winsvc_windows.go) so that they are tested on
// every OS.
//
// kardianos/service (v1.3.0) accepts Stop and Shutdown for the whole life
// of a Windows service, and when the program's Stop returns an error it
// ends the service anyway (Execute returns exit code 2): the process
// exits, and the service manager restarts it only if its recovery actions
// also apply to "non-crash" failures, which kardianos does not turn on.
// So the installed service on Windows runs its own handler: it does not
// accept Stop while the pact binds (sc stop, net stop and the Services
// window are then told that the service cannot take the request, and it
// goes on running), accepts it again once nothing binds or uninstalling is
// allowed, and always stops for a system shutdown. A failure ends the
// service with an error code, and install turns on the recovery actions
// for those too (winsvc_windows.go), so the service manager starts it
// again after 5 s; a killed process is restarted the same way.

// winControl is a request of the Windows service manager.
type winControl int

const (
	winInterrogate winControl = iota // "what is your state?"
	winStop                          // sc stop, net stop, the Services window
	winShutdown                      // the computer shuts down
	winOther                         // anything else (pause, parameters, ...)
)

// winReply is what the service does with a request.
type winReply int

const (
	winReport      winReply = iota // tell its state
	winStopNow                     // save and stop
	winKeepRunning                 // refuse: say it runs, and go on
	winIgnore                      // nothing
)

// answerControl decides what the service does with request c, given
// whether the pact lets it stop now (Daemon.MayStop).
func answerControl(c winControl, mayStop bool) winReply {
	switch c {
	case winInterrogate:
		return winReport
	case winShutdown:
		// The computer goes down whatever the service says: save first.
		return winStopNow
	case winStop:
		if mayStop {
			return winStopNow
		}
		return winKeepRunning
	}
	return winIgnore
}

// acceptsStop says whether the service tells the service manager that it
// accepts Stop (Shutdown it always accepts).
func acceptsStop(mayStop bool) bool { return mayStop }

// exitCode is the service's exit code when it ends: 0 for a stop it
// accepted, so that the service manager leaves it stopped; otherwise
// (the filter stopped by itself, or failed to start or stop) a code that
// makes the service manager's recovery actions start it again.
func exitCode(stopped bool, err error) uint32 {
	switch {
	case stopped && err == nil:
		return 0
	case !stopped:
		return 3 // ended by itself: the service should never end on its own
	}
	return 2
}
